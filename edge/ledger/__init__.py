"""The store's authoritative ledger: SQLite journal, group-commit writer, projections."""
