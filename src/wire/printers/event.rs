//! core/v1 Event rows: `printEvent` (LAST SEEN, TYPE, REASON, OBJECT, SUBOBJECT, SOURCE,
//! MESSAGE, FIRST SEEN, COUNT, NAME).

use jiff::Timestamp;
use serde_json::Value;

use super::{since, time_at};
use crate::model::meta::Lookup as _;

pub(super) fn event_cells(event: &Value, now: Timestamp) -> Vec<Value> {
    let first_timestamp = time_at(event, "/firstTimestamp");
    let first_seen = match first_timestamp {
        Some(t) => since(Some(t), now),
        None => since(time_at(event, "/eventTime"), now),
    };
    let mut last_seen = match time_at(event, "/lastTimestamp") {
        Some(t) => since(Some(t), now),
        None => first_seen.clone(),
    };
    let mut count = event.i64_at("/count").unwrap_or(0);
    if event.is_set("/series") {
        last_seen = since(time_at(event, "/series/lastObservedTime"), now);
        count = event.i64_at("/series/count").unwrap_or(0);
    } else if count == 0 {
        // Singleton events don't have a count set in the new API.
        count = 1;
    }

    let involved_kind = event.str_at("/involvedObject/kind").to_lowercase();
    let involved_name = event.str_at("/involvedObject/name");
    let target = if involved_name.is_empty() {
        involved_kind
    } else {
        format!("{involved_kind}/{involved_name}")
    };

    let component = first_non_empty(
        event.str_at("/source/component"),
        event.str_at("/reportingComponent"),
    );
    let instance = first_non_empty(
        event.str_at("/source/host"),
        event.str_at("/reportingInstance"),
    );
    let source = if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    };

    vec![
        Value::from(last_seen),
        Value::from(event.str_at("/type")),
        Value::from(event.str_at("/reason")),
        Value::from(target),
        Value::from(event.str_at("/involvedObject/fieldPath")),
        Value::from(source),
        Value::from(event.str_at("/message").trim()),
        Value::from(first_seen),
        Value::from(count),
        Value::from(event.str_at("/metadata/name")),
    ]
}

fn first_non_empty<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() { b } else { a }
}

#[cfg(test)]
mod tests {

    use super::super::cells;
    use super::super::tests::{ago, now, s};
    use serde_json::json;

    #[test]
    fn event_cells_cases() {
        let classic = json!({
            "metadata": {"name": "web.17f0", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{web}"},
            "reason": "Pulled", "type": "Normal",
            "message": "  Successfully pulled image \"nginx\"\n",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": ago(600), "lastTimestamp": ago(65), "count": 4,
        });
        assert_eq!(
            cells("Event", &classic, now()),
            vec![
                s("65s"),
                s("Normal"),
                s("Pulled"),
                s("pod/web"),
                s("spec.containers{web}"),
                s("kubelet, node-1"),
                s("Successfully pulled image \"nginx\""),
                s("10m"),
                json!(4),
                s("web.17f0")
            ]
        );

        let new_api = json!({
            "metadata": {"name": "e2"},
            "involvedObject": {"kind": "ReplicaSet", "name": "web-abc"},
            "reason": "SuccessfulCreate", "type": "Normal", "message": "Created pod",
            "eventTime": "2026-01-01T11:58:00.000000Z",
            "reportingComponent": "replicaset-controller", "reportingInstance": "",
        });
        let got = cells("Event", &new_api, now());
        assert_eq!(
            got[0],
            s("2m"),
            "last seen falls back to first seen (eventTime)"
        );
        assert_eq!(got[3], s("replicaset/web-abc"));
        assert_eq!(got[5], s("replicaset-controller"));
        assert_eq!(got[7], s("2m"));
        assert_eq!(got[8], json!(1), "count 0 => 1");

        let series = json!({
            "metadata": {"name": "e3"},
            "involvedObject": {"kind": "Node"},
            "eventTime": ago(7200), "count": 0,
            "series": {"count": 12, "lastObservedTime": ago(5)},
            "reportingComponent": "kubelet", "reportingInstance": "node-9",
            "source": {"component": "", "host": ""},
        });
        let got = cells("Event", &series, now());
        assert_eq!(got[0], s("5s"));
        assert_eq!(got[3], s("node"), "no name => kind only");
        assert_eq!(got[5], s("kubelet, node-9"));
        assert_eq!(got[7], s("120m"));
        assert_eq!(got[8], json!(12));

        let empty = json!({"metadata": {"name": "e4"}});
        assert_eq!(
            cells("Event", &empty, now()),
            vec![
                s("<unknown>"),
                s(""),
                s(""),
                s(""),
                s(""),
                s(""),
                s(""),
                s("<unknown>"),
                json!(1),
                s("e4")
            ]
        );
    }
}
