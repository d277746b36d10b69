//! Lease rows: `printLease` (HOLDER: `spec.holderIdentity`, empty when nobody holds it).

use jiff::Timestamp;
use serde_json::Value;

use super::age;
use crate::model::meta::Lookup as _;

pub(super) const LEASE_HOLDER_DESC: &str = "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field.";

pub(super) fn lease_cells(lease: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        Value::from(lease.str_at("/metadata/name")),
        Value::from(lease.str_at("/spec/holderIdentity")),
        Value::from(age(lease, now)),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ago, now, s};
    use super::super::{cells, columns};
    use serde_json::json;

    #[test]
    fn a_lease_row_names_its_holder() {
        let names: Vec<&str> = columns("Lease").iter().map(|c| c.name).collect();
        assert_eq!(names, ["Name", "Holder", "Age"]);
        let held = json!({"metadata": {"name": "node-1", "creationTimestamp": ago(120)},
            "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40}});
        assert_eq!(
            cells("Lease", &held, now()),
            vec![s("node-1"), s("node-1"), s("2m")]
        );
        let free = json!({"metadata": {"name": "lock", "creationTimestamp": ago(5)}, "spec": {}});
        assert_eq!(
            cells("Lease", &free, now()),
            vec![s("lock"), s(""), s("5s")]
        );
    }
}
