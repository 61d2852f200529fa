"""Delivery of alert changes: dashboards (WebSocket), MQTT, signed webhooks, CAP 1.2 documents."""
