"""Database access: the async pool and versioned SQL migrations."""
