"""The central server: ingest (MQTT) -> store (PostgreSQL / TimescaleDB) -> rules -> alerts -> notify; api."""
