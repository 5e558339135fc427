"""The link to HQ: the store's uplink forwarder and the reference HQ receiver (SPEC §2.2)."""
