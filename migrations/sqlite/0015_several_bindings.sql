-- Issue 15 point 8: a parent with children in two schools has two diary accounts and one
-- ESIA account. A binding is now keyed by the diary login (each diary account still
-- belongs to one ESIA account); an ESIA account may hold several. SQLite cannot change a
-- primary key in place, so the table is rebuilt with its rows.
CREATE TABLE bindings_by_login (
    diary_login   TEXT    PRIMARY KEY NOT NULL,
    esia_oid      INTEGER NOT NULL,
    diary_role    TEXT,
    account_level TEXT,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER NOT NULL,
    stale         BOOLEAN NOT NULL,
    flagged       BOOLEAN NOT NULL DEFAULT FALSE
);
INSERT INTO bindings_by_login (diary_login, esia_oid, diary_role, account_level, created_at,
    last_used_at, stale, flagged)
    SELECT diary_login, esia_oid, diary_role, account_level, created_at, last_used_at, stale,
        flagged FROM bindings;
DROP TABLE bindings;
ALTER TABLE bindings_by_login RENAME TO bindings;
CREATE INDEX bindings_esia_oid ON bindings (esia_oid);

-- How many diary accounts the session's ESIA person had when its diary identity was set:
-- more than one shows the account switcher on the diary's pages.
ALTER TABLE sessions ADD COLUMN diary_accounts INTEGER NOT NULL DEFAULT 1;
