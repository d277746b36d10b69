-- Each event's history entry (the LogEntry with its recorded changes, as the history endpoint
-- serves it), kept clustered by object: an object's whole history is one contiguous range of
-- this table instead of one page of `events` per event. Filled by a trigger as events are
-- appended (for events that carry recorded changes), never updated; derived from `events`
-- only.
CREATE TABLE history_entries (
    kind      TEXT    NOT NULL,
    namespace TEXT    NOT NULL,
    name      TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    entry     TEXT    NOT NULL,
    PRIMARY KEY (kind, namespace, name, seq)
) WITHOUT ROWID;

CREATE TRIGGER events_history_entry AFTER INSERT ON events WHEN NEW.changes IS NOT NULL
BEGIN
    INSERT INTO history_entries (kind, namespace, name, seq, entry)
    SELECT NEW.kind, NEW.namespace, NEW.name, NEW.seq,
           substr(base, 1, length(base) - 1)
           || CASE WHEN NEW.prev_seq IS NULL THEN ''
              ELSE ',"previousResourceVersion":"' || NEW.prev_seq || '"' END
           || CASE WHEN NEW.caused_by IS NULL THEN ''
              ELSE ',"causedBy":"' || NEW.caused_by || '"' END
           || CASE WHEN NEW.user_agent IS NULL THEN ''
              ELSE ',"userAgent":' || json_quote(NEW.user_agent) END
           || CASE WHEN NEW.field_manager IS NULL THEN ''
              ELSE ',"fieldManager":' || json_quote(NEW.field_manager) END
           || ',"changes":' || NEW.changes || '}'
    FROM (SELECT json_object('apiVersion', 'kubetrail.dev/v1alpha1', 'kind', 'LogEntry',
                   'metadata', json_object('name', CAST(NEW.seq AS TEXT),
                     'resourceVersion', CAST(NEW.seq AS TEXT)),
                   'time', NEW.time, 'type', NEW.event_type, 'eventVersion', NEW.event_version,
                   'involvedObject', json_object('apiVersion', NEW.api_version, 'kind', NEW.kind,
                     'namespace', NEW.namespace, 'name', NEW.name, 'uid', NEW.uid),
                   'actor', NEW.actor, 'requestID', NEW.request_id) AS base);
END;

INSERT INTO history_entries (kind, namespace, name, seq, entry)
SELECT kind, namespace, name, seq,
       substr(base, 1, length(base) - 1)
       || CASE WHEN prev_seq IS NULL THEN ''
          ELSE ',"previousResourceVersion":"' || prev_seq || '"' END
       || CASE WHEN caused_by IS NULL THEN ''
          ELSE ',"causedBy":"' || caused_by || '"' END
       || CASE WHEN user_agent IS NULL THEN ''
          ELSE ',"userAgent":' || json_quote(user_agent) END
       || CASE WHEN field_manager IS NULL THEN ''
          ELSE ',"fieldManager":' || json_quote(field_manager) END
       || ',"changes":' || changes || '}'
FROM (SELECT kind, namespace, name, seq, prev_seq, caused_by, user_agent, field_manager, changes,
             json_object('apiVersion', 'kubetrail.dev/v1alpha1', 'kind', 'LogEntry',
               'metadata', json_object('name', CAST(seq AS TEXT),
                 'resourceVersion', CAST(seq AS TEXT)),
               'time', time, 'type', event_type, 'eventVersion', event_version,
               'involvedObject', json_object('apiVersion', api_version, 'kind', kind,
                 'namespace', namespace, 'name', name, 'uid', uid),
               'actor', actor, 'requestID', request_id) AS base
      FROM events WHERE changes IS NOT NULL);
