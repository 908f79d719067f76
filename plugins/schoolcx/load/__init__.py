"""Loading connector pages into `raw` (COPY, idempotent, state in the same transaction)."""
