-- Tell every replica at once when a session ends (logout, unbind, purge), so their
-- caches drop it immediately instead of after the cache TTL. The payload is the hex
-- of the id hash, which is not a credential.
CREATE FUNCTION esia_gw_session_ended() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('esia_gw_sessions', encode(OLD.id_hash, 'hex'));
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER sessions_ended AFTER DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION esia_gw_session_ended();
