"""Device drivers bridged to the store's MQTT bus; they import nothing of edge but edge.protocol."""
