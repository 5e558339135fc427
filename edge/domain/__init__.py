"""Pure business rules: functions and dataclasses, no I/O and no asyncio."""
