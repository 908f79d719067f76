"""schoolcx: K-12 contact metrics pipeline."""
