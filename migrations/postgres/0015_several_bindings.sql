-- Issue 15 point 8: a parent with children in two schools has two diary accounts and one
-- ESIA account. A binding is now keyed by the diary login (each diary account still
-- belongs to one ESIA account); an ESIA account may hold several.
ALTER TABLE bindings DROP CONSTRAINT bindings_pkey;
ALTER TABLE bindings DROP CONSTRAINT bindings_diary_login_key;
ALTER TABLE bindings ALTER COLUMN esia_oid SET NOT NULL;
ALTER TABLE bindings ADD PRIMARY KEY (diary_login);
CREATE INDEX bindings_esia_oid ON bindings (esia_oid);

-- How many diary accounts the session's ESIA person had when its diary identity was set:
-- more than one shows the account switcher on the diary's pages.
ALTER TABLE sessions ADD COLUMN diary_accounts BIGINT NOT NULL DEFAULT 1;
