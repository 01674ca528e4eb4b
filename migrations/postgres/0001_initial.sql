-- esia-gateway store, PostgreSQL flavour. Times are unix seconds (UTC) in BIGINT, the
-- same semantics as the SQLite schema, so both backends share their queries.

-- Gateway sessions. The key is SHA-256 of the cookie secret, so a copy of this table
-- does not yield live cookies.
CREATE TABLE sessions (
    id_hash            BYTEA   PRIMARY KEY,
    auth_method        TEXT    NOT NULL,
    authenticated_at   BIGINT  NOT NULL,
    created_at         BIGINT  NOT NULL,
    last_seen_at       BIGINT  NOT NULL,
    idle_timeout_secs  BIGINT  NOT NULL,
    absolute_expiry    BIGINT  NOT NULL,
    public_computer    BOOLEAN NOT NULL,
    esia_oid           BIGINT,
    account_level      TEXT,
    diary_login        TEXT,
    diary_role         TEXT,
    csrf_token         TEXT    NOT NULL,
    diary_cookies      BYTEA,
    esia_id_token_hint BYTEA
);
CREATE INDEX sessions_absolute_expiry ON sessions (absolute_expiry);
CREATE INDEX sessions_diary_login ON sessions (diary_login);

-- One row per ESIA login in progress; taken (deleted) exactly once by the callback.
CREATE TABLE login_flows (
    state             TEXT    PRIMARY KEY,
    cookie_binding    BYTEA   NOT NULL,
    nonce             TEXT    NOT NULL,
    purpose           TEXT    NOT NULL,
    return_path       TEXT    NOT NULL,
    public_computer   BOOLEAN NOT NULL,
    legacy_session_id BYTEA,
    created_at        BIGINT  NOT NULL,
    expires_at        BIGINT  NOT NULL
);
CREATE INDEX login_flows_expires_at ON login_flows (expires_at);

-- ESIA account <-> diary account, one to one.
CREATE TABLE bindings (
    esia_oid      BIGINT  PRIMARY KEY,
    diary_login   TEXT    NOT NULL UNIQUE,
    diary_role    TEXT,
    account_level TEXT,
    created_at    BIGINT  NOT NULL,
    last_used_at  BIGINT  NOT NULL,
    stale         BOOLEAN NOT NULL
);

-- Encrypted diary credentials; opaque to the store (see diary::vault).
CREATE TABLE vault_entries (
    diary_login TEXT   PRIMARY KEY,
    key_id      TEXT   NOT NULL,
    nonce       BYTEA  NOT NULL,
    ciphertext  BYTEA  NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Append-only audit trail. Never passwords, SNILS or tokens.
CREATE TABLE audit_events (
    id          BIGSERIAL PRIMARY KEY,
    ts          BIGINT NOT NULL,
    kind        TEXT   NOT NULL,
    esia_oid    BIGINT,
    diary_login TEXT,
    client_ip   TEXT,
    detail      TEXT   NOT NULL
);
CREATE INDEX audit_events_ts ON audit_events (ts);

-- Rate-limit attempts keyed by strings such as 'oid:123' or 'ip:192.0.2.1'.
CREATE TABLE attempts (
    id  BIGSERIAL PRIMARY KEY,
    key TEXT   NOT NULL,
    ts  BIGINT NOT NULL
);
CREATE INDEX attempts_key_ts ON attempts (key, ts);
