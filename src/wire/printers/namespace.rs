//! Namespace rows: `printNamespace` (STATUS, AGE).

use jiff::Timestamp;
use serde_json::Value;

use super::age;
use crate::model::meta::Lookup as _;

pub(super) fn namespace_cells(ns: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        Value::from(ns.str_at("/metadata/name")),
        Value::from(ns.str_at("/status/phase")),
        Value::from(age(ns, now)),
    ]
}

#[cfg(test)]
mod tests {

    use super::super::cells;
    use super::super::tests::{ago, now, s};
    use serde_json::json;

    #[test]
    fn namespace_cells_case() {
        let ns = json!({"metadata": {"name": "default", "creationTimestamp": ago(30 * 3600)},
                        "status": {"phase": "Active"}});
        assert_eq!(
            cells("Namespace", &ns, now()),
            vec![s("default"), s("Active"), s("30h")]
        );
        let terminating = json!({"metadata": {"name": "old"}, "status": {"phase": "Terminating"}});
        assert_eq!(
            cells("Namespace", &terminating, now()),
            vec![s("old"), s("Terminating"), s("<unknown>")]
        );
    }
}
