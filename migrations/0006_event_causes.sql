-- Every cause of an event, not only the one `caused_by` names: a JSON array of
-- {"resourceVersion", "reason"} (the first is `caused_by`'s, with what about it mattered),
-- NULL when the request named none. The history entry carries it as `causes`.
ALTER TABLE events ADD COLUMN causes TEXT;

DROP TRIGGER events_history_entry;

CREATE TRIGGER events_history_entry AFTER INSERT ON events WHEN NEW.changes IS NOT NULL
BEGIN
    INSERT INTO history_entries (kind, namespace, name, seq, entry)
    SELECT NEW.kind, NEW.namespace, NEW.name, NEW.seq,
           substr(base, 1, length(base) - 1)
           || CASE WHEN NEW.prev_seq IS NULL THEN ''
              ELSE ',"previousResourceVersion":"' || NEW.prev_seq || '"' END
           || CASE WHEN NEW.caused_by IS NULL THEN ''
              ELSE ',"causedBy":"' || NEW.caused_by || '"' END
           || CASE WHEN NEW.causes IS NULL THEN ''
              ELSE ',"causes":' || NEW.causes END
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
