-- 009: usernames are one name once every character but letters and digits is dropped (`admin@`, `admin` and
-- `ad.min` are one name: annotations/users.py `username_key`); before, `@` was kept. Stored names are ASCII letters,
-- digits and . _ @ -, so the new key of an existing account is its old key without `@`. Where that collides with
-- another account's key, the account keeps a key of its own (`<old key>#<user_id>`, as migration 003 did): it
-- still logs in by its exact name, and nobody new can take a name that collides with either.
UPDATE users SET username_key = CASE
    WHEN (SELECT count(*) FROM users o WHERE replace(o.username_key, '@', '') = replace(users.username_key, '@', '')) > 1
        THEN username_key || '#' || user_id
    ELSE replace(username_key, '@', '')
END
WHERE username_key LIKE '%@%';
