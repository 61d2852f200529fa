"""The alert engine: pure rule evaluators, the alert lifecycle, persistence and the async engine."""
