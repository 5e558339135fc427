"""Data the demo store starts with (catalog CSV)."""
