-- `esia-gateway audit --login L | --oid N` (issue 13): the operator's lookups of one
-- user's trail without scanning a year of events.
CREATE INDEX audit_events_diary_login ON audit_events (diary_login);
CREATE INDEX audit_events_esia_oid ON audit_events (esia_oid);
