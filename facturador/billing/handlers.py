"""Job handlers (filled in by batch.py / payments)."""
