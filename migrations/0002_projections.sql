-- Projections: the current state of every kind, derived from `events` only and updated in the
-- same transaction as the append. `kubetrail rebuild` drops and replays them.
CREATE TABLE objects (
    kind      TEXT    NOT NULL,
    namespace TEXT    NOT NULL,
    name      TEXT    NOT NULL,
    uid       TEXT    NOT NULL,
    seq       INTEGER NOT NULL,                -- resourceVersion of this state (the last event's seq)
    node_name TEXT,                            -- pods: spec.nodeName, for node-scoped reads
    object    TEXT    NOT NULL,
    PRIMARY KEY (kind, namespace, name)
) WITHOUT ROWID;

CREATE INDEX objects_by_node ON objects (kind, node_name) WHERE node_name IS NOT NULL;

-- The last log seq the projections reflect; compared with the log at start-up.
CREATE TABLE projection_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    applied_seq INTEGER NOT NULL
);
INSERT INTO projection_state (id, applied_seq) VALUES (1, 0);
