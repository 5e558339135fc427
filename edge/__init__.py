"""store-edge: the in-store server (ledger, device gateway, web tills, HQ forwarding)."""

__version__ = "0.1.0"
