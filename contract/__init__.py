"""The contract between edge workers and the server: config tree, MQTT topics and payloads."""

__version__ = "0.1.0"
