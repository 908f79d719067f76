"""One connector per vendor API; see base.py for the shared interface."""
