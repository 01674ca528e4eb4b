-- esia-gateway store, SQLite flavour. Times are unix seconds (UTC); the PostgreSQL
-- schema has the same columns with BIGINT / BYTEA / BOOLEAN.

-- Gateway sessions. The key is SHA-256 of the cookie secret, so a copy of this table
-- does not yield live cookies.
CREATE TABLE sessions (
    id_hash            BLOB    PRIMARY KEY NOT NULL,
    auth_method        TEXT    NOT NULL,
    authenticated_at   INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    last_seen_at       INTEGER NOT NULL,
    idle_timeout_secs  INTEGER NOT NULL,
    absolute_expiry    INTEGER NOT NULL,
    public_computer    BOOLEAN NOT NULL,
    esia_oid           INTEGER,
    account_level      TEXT,
    diary_login        TEXT,
    diary_role         TEXT,
    csrf_token         TEXT    NOT NULL,
    diary_cookies      BLOB,
    esia_id_token_hint BLOB
);
CREATE INDEX sessions_absolute_expiry ON sessions (absolute_expiry);
CREATE INDEX sessions_diary_login ON sessions (diary_login);

-- One row per ESIA login in progress; taken (deleted) exactly once by the callback.
CREATE TABLE login_flows (
    state             TEXT    PRIMARY KEY NOT NULL,
    cookie_binding    BLOB    NOT NULL,
    nonce             TEXT    NOT NULL,
    purpose           TEXT    NOT NULL,
    return_path       TEXT    NOT NULL,
    public_computer   BOOLEAN NOT NULL,
    legacy_session_id BLOB,
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL
);
CREATE INDEX login_flows_expires_at ON login_flows (expires_at);

-- ESIA account <-> diary account, one to one.
CREATE TABLE bindings (
    esia_oid      INTEGER PRIMARY KEY NOT NULL,
    diary_login   TEXT    NOT NULL UNIQUE,
    diary_role    TEXT,
    account_level TEXT,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER NOT NULL,
    stale         BOOLEAN NOT NULL
);

-- Encrypted diary credentials; opaque to the store (see diary::vault).
CREATE TABLE vault_entries (
    diary_login TEXT    PRIMARY KEY NOT NULL,
    key_id      TEXT    NOT NULL,
    nonce       BLOB    NOT NULL,
    ciphertext  BLOB    NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Append-only audit trail. Never passwords, SNILS or tokens.
CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ts          INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    esia_oid    INTEGER,
    diary_login TEXT,
    client_ip   TEXT,
    detail      TEXT    NOT NULL
);
CREATE INDEX audit_events_ts ON audit_events (ts);

-- Rate-limit attempts keyed by strings such as 'oid:123' or 'ip:192.0.2.1'.
CREATE TABLE attempts (
    id  INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT    NOT NULL,
    ts  INTEGER NOT NULL
);
CREATE INDEX attempts_key_ts ON attempts (key, ts);
