"""Use cases: each takes a command, checks it with domain rules and appends ledger events."""
