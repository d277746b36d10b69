-- The event log: the source of truth. One row per accepted write; rows are never updated or deleted.
-- `seq` is the global order and every object's resourceVersion.
CREATE TABLE events (
    seq           INTEGER PRIMARY KEY,
    time          TEXT    NOT NULL,            -- RFC 3339 with nanoseconds, UTC
    api_version   TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    namespace     TEXT    NOT NULL,            -- '' for cluster-scoped kinds
    name          TEXT    NOT NULL,
    uid           TEXT    NOT NULL,
    event_type    TEXT    NOT NULL,            -- Created, Updated, StatusUpdated, Scaled, Bound, DeletionRequested, Deleted
    event_version INTEGER NOT NULL DEFAULT 1,
    prev_seq      INTEGER,                     -- the previous event of the same object; NULL when created
    object        TEXT    NOT NULL,            -- the full resulting object as JSON
    actor         TEXT    NOT NULL,            -- authenticated user or worker name
    user_agent    TEXT,
    field_manager TEXT,
    request_id    TEXT    NOT NULL,
    caused_by     INTEGER                      -- seq of the event that made a worker act
);

CREATE INDEX events_by_object ON events (kind, namespace, name, seq);
CREATE INDEX events_by_uid ON events (uid, seq);
-- Two writers that both saw the same previous version cannot both append after it.
CREATE UNIQUE INDEX events_one_successor ON events (prev_seq) WHERE prev_seq IS NOT NULL;

CREATE TRIGGER events_are_never_updated BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER events_are_never_deleted BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
