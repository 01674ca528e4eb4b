-- Route discovery (issue 13): how often the diary answered 200 to a signed-in user on a
-- page no route group covers, by canonical route (path + routing parameters, numbers
-- folded to {n}). Counts only: no user, no address, no time of a single request.
CREATE TABLE route_hits (
    route      TEXT    PRIMARY KEY,
    hits       BIGINT  NOT NULL,
    first_seen BIGINT  NOT NULL,
    last_seen  BIGINT  NOT NULL
);
