-- Snapshots: copies of the projections as of a log position, so a rebuild starts from the
-- newest one and replays only the events after it. Derived data like the projections (never
-- the source of truth): a snapshot may be dropped at any time; the events table is untouched.
CREATE TABLE snapshots (
    seq     INTEGER PRIMARY KEY,               -- the log position the copied rows reflect
    created TEXT    NOT NULL,                  -- RFC 3339, UTC
    objects INTEGER NOT NULL                   -- rows copied
);

CREATE TABLE snapshot_objects (
    snapshot_seq INTEGER NOT NULL REFERENCES snapshots (seq) ON DELETE CASCADE,
    kind      TEXT    NOT NULL,
    namespace TEXT    NOT NULL,
    name      TEXT    NOT NULL,
    uid       TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    node_name TEXT,
    object    TEXT    NOT NULL,
    PRIMARY KEY (snapshot_seq, kind, namespace, name)
) WITHOUT ROWID;
