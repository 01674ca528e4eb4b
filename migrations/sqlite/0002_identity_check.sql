-- Issue 12, the identity check at linking. Additive: old rows read as "not flagged" and
-- "no ESIA facts".

-- A binding made although the ESIA person and the diary account did not match
-- ([linking] identity_check = "warn"), for an operator to look at.
ALTER TABLE bindings ADD COLUMN flagged BOOLEAN NOT NULL DEFAULT FALSE;

-- What ESIA said about the person at login (normalised names, birth dates, children),
-- JSON, kept only as long as the session itself, for the check at the link form.
ALTER TABLE sessions ADD COLUMN esia_person TEXT;
