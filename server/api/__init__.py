"""The REST API: one router module per resource under `routes/`."""
