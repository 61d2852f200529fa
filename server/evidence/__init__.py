"""Evidence on the server: event clips (a clip store), review state, cases and exports, the audit log."""
