-- 010: an invitation is stored by the SHA-256 (hex) of its token, as a session is (annotations/sessions.py
-- `token_hash`): the link carries the token, the store and every backup only its hash, so a copy of the store no
-- longer holds a link that creates an account. DuckDB's `sha256` of the text is the same hex string as Python's
-- `hashlib.sha256(token.encode()).hexdigest()`, so links sent before this migration keep working. The table is
-- rebuilt because `token` is its primary key (a key column cannot be dropped or renamed in place).
CREATE TABLE invitations_by_hash (
    token_hash  VARCHAR PRIMARY KEY,
    role        VARCHAR NOT NULL CHECK (role IN ('annotator', 'researcher')),
    created_by  VARCHAR,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    used_by     VARCHAR,
    used_at     TIMESTAMP
);
INSERT INTO invitations_by_hash
    SELECT sha256(token), role, created_by, created_at, expires_at, used_by, used_at FROM invitations;
DROP TABLE invitations;
ALTER TABLE invitations_by_hash RENAME TO invitations;
