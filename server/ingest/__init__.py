"""MQTT ingest: subscribe, decode per sensor mapping, validate, batch-write, ack after commit."""
