"""Wire contracts shared with devices and HQ: pure data formats, no I/O."""
