-- 008: a researcher's unlock of a username (the Users page, annotations/logins.py `unlock`): the failures typed
-- for that name before it no longer count towards a lock or a back-off.
CREATE TABLE login_unlocks (
    username_key VARCHAR NOT NULL,             -- the canonical form (users.username_key)
    unlocked_at  TIMESTAMP NOT NULL,
    unlocked_by  VARCHAR                       -- the researcher's user_id
);
CREATE INDEX login_unlocks_key ON login_unlocks (username_key);
