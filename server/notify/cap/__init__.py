"""OASIS Common Alerting Protocol 1.2 documents for alerts, and the schema they validate against."""
