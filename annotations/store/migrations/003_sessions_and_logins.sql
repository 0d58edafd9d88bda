-- 003: sessions that survive a reload, the login attempts behind throttling, and canonical usernames.
-- See annotations/sessions.py, annotations/logins.py and annotations/users.py.

-- A login session. The browser holds a random token in an HttpOnly cookie; the store keeps only its SHA-256.
-- The tab that logged in refers to the row by session_id (kept server side, in Streamlit's session state).
CREATE TABLE sessions (
    session_id        VARCHAR PRIMARY KEY,     -- opaque, never sent to the browser
    user_id           VARCHAR NOT NULL,
    token_hash        VARCHAR,                 -- sha256 hex of the cookie's token; NULL until the cookie is issued
    ticket_hash       VARCHAR,                 -- sha256 hex of the one-use ticket the page trades for the cookie
    ticket_expires_at TIMESTAMP,
    client            VARCHAR,                 -- address the login came from
    created_at        TIMESTAMP NOT NULL,
    last_seen_at      TIMESTAMP NOT NULL,      -- idle expiry counts from here
    expires_at        TIMESTAMP NOT NULL,      -- absolute expiry
    revoked_at        TIMESTAMP,
    revoked_reason    VARCHAR                  -- logout | disabled | password changed
);
CREATE INDEX sessions_token_hash ON sessions (token_hash);
CREATE INDEX sessions_user ON sessions (user_id);

-- Every login attempt that reached a verdict: a wrong password, a success, or one refused by the throttle.
CREATE TABLE login_attempts (
    attempted_at TIMESTAMP NOT NULL,
    username     VARCHAR NOT NULL,             -- as typed (cut to 200 characters)
    username_key VARCHAR NOT NULL,             -- the canonical form the throttle counts by (users.username_key)
    client       VARCHAR NOT NULL,             -- the client's address ('local' for loopback)
    outcome      VARCHAR NOT NULL CHECK (outcome IN ('success', 'failure', 'locked'))
);
CREATE INDEX login_attempts_key ON login_attempts (username_key);
CREATE INDEX login_attempts_client ON login_attempts (client);

-- Usernames are unique after NFKC, case folding and dropping . _ - (`Admin`, `admin.` and `admin` are one name).
-- DuckDB cannot add a unique index in the transaction that filled the new column, so the table is rebuilt with
-- the column and its UNIQUE constraint (same columns otherwise, plus must_change_password). Existing names are
-- ASCII (the old rule), so lower() is their case folding. Should two existing accounts share a key, the later
-- ones get `#<user_id>` appended: they keep logging in by their exact name, and nobody new can take a name that
-- collides with either.
CREATE TABLE users_003 (
    user_id              VARCHAR PRIMARY KEY,
    username             VARCHAR NOT NULL UNIQUE,
    role                 VARCHAR NOT NULL CHECK (role IN ('annotator', 'researcher')),
    password_hash        VARCHAR NOT NULL,     -- argon2id
    active               BOOLEAN NOT NULL DEFAULT TRUE,
    created_at           TIMESTAMP NOT NULL,
    created_by           VARCHAR,
    username_key         VARCHAR NOT NULL UNIQUE,  -- annotations.users.username_key(username)
    must_change_password BOOLEAN NOT NULL DEFAULT FALSE  -- the password predates the rules: ask for a new one
);
INSERT INTO users_003
SELECT user_id, username, role, password_hash, active, created_at, created_by,
       base || CASE WHEN row_number() OVER (PARTITION BY base ORDER BY created_at, user_id) = 1 THEN ''
                    ELSE '#' || user_id END,
       FALSE
FROM (SELECT *, lower(regexp_replace(username, '[._-]', '', 'g')) AS base FROM users) AS existing;
DROP TABLE users;
ALTER TABLE users_003 RENAME TO users;
