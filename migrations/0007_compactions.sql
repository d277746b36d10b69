-- Compactions: `kubetrail compact` folds the history of chosen kinds (and status-only updates
-- of any kind) at or before a log position into each object's newest event there. Each row
-- records one compaction; the newest `seq_through` is the compaction point: lists and watches
-- at an older resourceVersion are answered 410 Expired, and the log stays append-only after it.
CREATE TABLE compactions (
    id             INTEGER PRIMARY KEY,
    seq_through    INTEGER NOT NULL,           -- the compaction point P: events with seq <= P were folded
    time           TEXT    NOT NULL,           -- RFC 3339, UTC: when the compaction started
    kinds          TEXT    NOT NULL,           -- the kinds folded, comma-separated (Event,Lease)
    status_only    INTEGER NOT NULL,           -- 1: StatusUpdated events of every kind folded too
    events_removed INTEGER NOT NULL DEFAULT 0, -- counted as the batches commit
    actor          TEXT    NOT NULL            -- who compacted (the OS user, or the server's policy)
);

CREATE TRIGGER compactions_are_never_deleted BEFORE DELETE ON compactions
BEGIN SELECT RAISE(ABORT, 'compactions are a record: never deleted'); END;
CREATE TRIGGER compactions_keep_their_point BEFORE UPDATE OF id, seq_through, time, kinds, status_only, actor
ON compactions
BEGIN SELECT RAISE(ABORT, 'a compaction''s point and selection never change'); END;

-- The log stays append-only after the compaction point: an event row is never updated, and
-- is deleted only at or before the newest compaction's point (by `compact`, which records it
-- first).
DROP TRIGGER events_are_never_deleted;
CREATE TRIGGER events_are_never_deleted BEFORE DELETE ON events
WHEN OLD.seq > (SELECT COALESCE(MAX(seq_through), 0) FROM compactions)
BEGIN SELECT RAISE(ABORT, 'the event log is append-only after its compaction point'); END;
