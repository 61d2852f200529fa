"""Access control: users and roles, password hashing, sessions, API keys, login rate limiting,
and the `require_role` dependency every route and WebSocket goes through."""
