"""Storage: the `Store` protocol and its PostgreSQL / TimescaleDB implementation."""
