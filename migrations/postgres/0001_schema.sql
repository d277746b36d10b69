-- The PostgreSQL schema: the same tables, indexes and rules as the SQLite set (`migrations/`
-- 0001..0007), in one step. JSON is stored as `text`, never `json`/`jsonb`: the log hands back
-- exactly the bytes written (resourceVersions and `verify`'s digests rely on it). Every text
-- key is compared bytewise (`COLLATE "C"`), as SQLite compares it, whatever the database's
-- locale: list order, continue tokens and time ranges depend on it.

-- The event log: the source of truth. One row per accepted write; rows are never updated, and
-- deleted only at or before the newest compaction point (see `compactions`). `seq` is the
-- global order and every object's resourceVersion.
CREATE TABLE events (
    seq           BIGINT PRIMARY KEY,
    time          TEXT COLLATE "C" NOT NULL,   -- RFC 3339 with nanoseconds, UTC
    api_version   TEXT   NOT NULL,
    kind          TEXT COLLATE "C" NOT NULL,
    namespace     TEXT COLLATE "C" NOT NULL,   -- '' for cluster-scoped kinds
    name          TEXT COLLATE "C" NOT NULL,
    uid           TEXT COLLATE "C" NOT NULL,
    event_type    TEXT COLLATE "C" NOT NULL,   -- Created, Updated, StatusUpdated, Scaled, Bound, DeletionRequested, Deleted
    event_version BIGINT NOT NULL DEFAULT 1,
    prev_seq      BIGINT,                      -- the previous event of the same object; NULL when created
    object        TEXT   NOT NULL,             -- the full resulting object as JSON (or sealed)
    actor         TEXT COLLATE "C" NOT NULL,   -- authenticated user or worker name
    user_agent    TEXT,
    field_manager TEXT,
    request_id    TEXT   NOT NULL,
    caused_by     BIGINT,                      -- seq of the event that made a worker act
    -- What the event changed in its object (the readable diff from the version before it, a
    -- JSON array); NULL when not recorded.
    changes       TEXT,
    -- Every cause of the event: a JSON array of {"resourceVersion", "reason"}; NULL for none.
    causes        TEXT
);

CREATE INDEX events_by_object ON events (kind, namespace, name, seq);
CREATE INDEX events_by_uid ON events (uid, seq);
-- Two writers that both saw the same previous version cannot both append after it.
CREATE UNIQUE INDEX events_one_successor ON events (prev_seq) WHERE prev_seq IS NOT NULL;

-- Projections: the current state of every kind, derived from `events` only and updated in the
-- same transaction as the append. `kubetrail rebuild` drops and replays them.
CREATE TABLE objects (
    kind      TEXT COLLATE "C" NOT NULL,
    namespace TEXT COLLATE "C" NOT NULL,
    name      TEXT COLLATE "C" NOT NULL,
    uid       TEXT   NOT NULL,
    seq       BIGINT NOT NULL,                 -- resourceVersion of this state (the last event's seq)
    node_name TEXT COLLATE "C",                -- pods: spec.nodeName, for node-scoped reads
    object    TEXT   NOT NULL,
    PRIMARY KEY (kind, namespace, name)
);

CREATE INDEX objects_by_node ON objects (kind, node_name) WHERE node_name IS NOT NULL;

-- The last log seq the projections reflect; compared with the log at start-up.
CREATE TABLE projection_state (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    applied_seq BIGINT NOT NULL
);
INSERT INTO projection_state (id, applied_seq) VALUES (1, 0);

-- Snapshots: copies of the projections as of a log position, so a rebuild starts from the
-- newest one and replays only the events after it. Derived data: a snapshot may be dropped at
-- any time; the events table is untouched.
CREATE TABLE snapshots (
    seq     BIGINT PRIMARY KEY,                -- the log position the copied rows reflect
    created TEXT   NOT NULL,                   -- RFC 3339, UTC
    objects BIGINT NOT NULL                    -- rows copied
);

CREATE TABLE snapshot_objects (
    snapshot_seq BIGINT NOT NULL REFERENCES snapshots (seq) ON DELETE CASCADE,
    kind      TEXT COLLATE "C" NOT NULL,
    namespace TEXT COLLATE "C" NOT NULL,
    name      TEXT COLLATE "C" NOT NULL,
    uid       TEXT   NOT NULL,
    seq       BIGINT NOT NULL,
    node_name TEXT,
    object    TEXT   NOT NULL,
    PRIMARY KEY (snapshot_seq, kind, namespace, name)
);

-- Each event's history entry (the LogEntry with its recorded changes, as the history endpoint
-- serves it), kept by object: an object's whole history is one range of the primary key.
-- Filled by a trigger as events are appended (for events that carry recorded changes), never
-- updated; derived from `events` only.
CREATE TABLE history_entries (
    kind      TEXT COLLATE "C" NOT NULL,
    namespace TEXT COLLATE "C" NOT NULL,
    name      TEXT COLLATE "C" NOT NULL,
    seq       BIGINT NOT NULL,
    entry     TEXT   NOT NULL,
    PRIMARY KEY (kind, namespace, name, seq)
);

-- The entry is built as text, byte for byte the SQLite trigger's (json_object's compact form,
-- its keys in this order): `json_build_object` would put spaces around the colons and
-- `jsonb_build_object` would reorder the keys. `to_json(text)::text` quotes a string as
-- SQLite's json_quote does.
CREATE FUNCTION events_history_entry() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    q_seq TEXT := to_json(NEW.seq::text)::text;
BEGIN
    INSERT INTO history_entries (kind, namespace, name, seq, entry)
    VALUES (NEW.kind, NEW.namespace, NEW.name, NEW.seq,
        '{"apiVersion":"kubetrail.dev/v1alpha1","kind":"LogEntry","metadata":{"name":'
        || q_seq || ',"resourceVersion":' || q_seq || '}'
        || ',"time":' || to_json(NEW.time::text)::text
        || ',"type":' || to_json(NEW.event_type::text)::text
        || ',"eventVersion":' || NEW.event_version::text
        || ',"involvedObject":{"apiVersion":' || to_json(NEW.api_version::text)::text
        || ',"kind":' || to_json(NEW.kind::text)::text
        || ',"namespace":' || to_json(NEW.namespace::text)::text
        || ',"name":' || to_json(NEW.name::text)::text
        || ',"uid":' || to_json(NEW.uid::text)::text || '}'
        || ',"actor":' || to_json(NEW.actor::text)::text
        || ',"requestID":' || to_json(NEW.request_id::text)::text
        || CASE WHEN NEW.prev_seq IS NULL THEN ''
           ELSE ',"previousResourceVersion":"' || NEW.prev_seq::text || '"' END
        || CASE WHEN NEW.caused_by IS NULL THEN ''
           ELSE ',"causedBy":"' || NEW.caused_by::text || '"' END
        || CASE WHEN NEW.causes IS NULL THEN ''
           ELSE ',"causes":' || NEW.causes END
        || CASE WHEN NEW.user_agent IS NULL THEN ''
           ELSE ',"userAgent":' || to_json(NEW.user_agent::text)::text END
        || CASE WHEN NEW.field_manager IS NULL THEN ''
           ELSE ',"fieldManager":' || to_json(NEW.field_manager::text)::text END
        || ',"changes":' || NEW.changes || '}');
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_history_entry AFTER INSERT ON events
FOR EACH ROW WHEN (NEW.changes IS NOT NULL) EXECUTE FUNCTION events_history_entry();

-- Compactions: `kubetrail compact` folds the history of chosen kinds (and status-only updates
-- of any kind) at or before a log position into each object's newest event there. Each row
-- records one compaction; the newest `seq_through` is the compaction point: lists and watches
-- at an older resourceVersion are answered 410 Expired, and the log stays append-only after it.
CREATE TABLE compactions (
    id             BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    seq_through    BIGINT  NOT NULL,           -- the compaction point P: events with seq <= P were folded
    time           TEXT    NOT NULL,           -- RFC 3339, UTC: when the compaction started
    kinds          TEXT    NOT NULL,           -- the kinds folded, comma-separated (Event,Lease)
    status_only    BOOLEAN NOT NULL,           -- StatusUpdated events of every kind folded too
    events_removed BIGINT  NOT NULL DEFAULT 0, -- counted as the batches commit
    actor          TEXT    NOT NULL            -- who compacted (the OS user, or the server's policy)
);

CREATE FUNCTION compactions_are_never_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'compactions are a record: never deleted';
END;
$$;
CREATE TRIGGER compactions_are_never_deleted BEFORE DELETE ON compactions
FOR EACH ROW EXECUTE FUNCTION compactions_are_never_deleted();

CREATE FUNCTION compactions_keep_their_point() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a compaction''s point and selection never change';
END;
$$;
CREATE TRIGGER compactions_keep_their_point
BEFORE UPDATE OF id, seq_through, time, kinds, status_only, actor ON compactions
FOR EACH ROW EXECUTE FUNCTION compactions_keep_their_point();

-- The log stays append-only after the compaction point: an event row is never updated, and
-- is deleted only at or before the newest compaction's point (by `compact`, which records it
-- first).
CREATE FUNCTION events_are_never_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only';
END;
$$;
CREATE TRIGGER events_are_never_updated BEFORE UPDATE ON events
FOR EACH ROW EXECUTE FUNCTION events_are_never_updated();

CREATE FUNCTION events_are_never_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.seq > (SELECT COALESCE(MAX(seq_through), 0) FROM compactions) THEN
        RAISE EXCEPTION 'the event log is append-only after its compaction point';
    END IF;
    RETURN OLD;
END;
$$;
CREATE TRIGGER events_are_never_deleted BEFORE DELETE ON events
FOR EACH ROW EXECUTE FUNCTION events_are_never_deleted();
-- TRUNCATE bypasses row triggers: refuse it too.
CREATE TRIGGER events_are_never_truncated BEFORE TRUNCATE ON events
FOR EACH STATEMENT EXECUTE FUNCTION events_are_never_updated();
