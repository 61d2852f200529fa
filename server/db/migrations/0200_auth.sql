-- Console users, their sessions, and API keys for machines (edge workers, other IOC systems).
-- Secrets are never stored: passwords as argon2id hashes, session tokens and API keys as SHA-256 digests.

CREATE TABLE users (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      text        NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,62}$'),
    display_name  text        NOT NULL DEFAULT '',
    role          text        NOT NULL CHECK (role IN ('viewer', 'responder', 'operator', 'admin')),
    password_hash text        NOT NULL,
    language      text        NOT NULL DEFAULT 'vi' CHECK (language IN ('vi', 'en')),
    disabled      boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_sessions (
    token_sha256 text        PRIMARY KEY,
    user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_sessions_user ON user_sessions (user_id);
CREATE INDEX user_sessions_expires ON user_sessions (expires_at);

CREATE TABLE api_keys (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text        NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
    prefix       text        NOT NULL UNIQUE,
    key_sha256   text        NOT NULL,
    role         text        NOT NULL CHECK (role IN ('viewer', 'responder', 'operator', 'admin')),
    created_by   bigint      REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
