"""The MQTT side of the server: broker files and child, the session, the device router."""
