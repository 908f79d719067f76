"""Synthetic demo data: a generated world of districts and their contacts."""
