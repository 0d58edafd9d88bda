"""Accounts: who may log in, and how a browser stays logged in.

- `users`: researchers and annotators, their password hashes (argon2), invitations and roles (`create_user`,
  `authenticate`).
- `sessions`: the browser's session token, stored as a hash, with its expiry and revocation.
- `logins`: login attempts and their throttling per account and per address.
"""
