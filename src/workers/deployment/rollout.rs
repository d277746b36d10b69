//! The arithmetic of a rollout, as Kubernetes' deployment controller does it: maxSurge and
//! maxUnavailable resolved against `spec.replicas` (surge rounded up, unavailability down, never
//! both zero), how far the new ReplicaSet may grow, how far the old ones may shrink, and how a
//! change of `spec.replicas` in the middle of a rollout is spread over the ReplicaSets in
//! proportion to their sizes. Pure integers in, integers out.

/// One ReplicaSet as a rollout counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    pub name: String,
    /// `spec.replicas`.
    pub replicas: i64,
    /// Pods it owns that are not being deleted and have not finished.
    pub active: i64,
    /// Of those, ready for at least the Deployment's minReadySeconds.
    pub available: i64,
    /// `deployment.kubernetes.io/max-replicas`, what the Deployment allowed when it last
    /// sized this ReplicaSet.
    pub max_replicas: Option<i64>,
    /// Creation time, then name: the order "older" means.
    pub age: (String, String),
}

impl Counted {
    /// Pods it has or will have: a ReplicaSet just scaled down still has its surplus until its
    /// controller deletes them, one just scaled up has them soon.
    pub fn footprint(&self) -> i64 {
        self.replicas.max(self.active)
    }

    /// Available pods that will stay: those above `spec.replicas` are about to be deleted.
    pub fn lasting_available(&self) -> i64 {
        self.available.min(self.replicas).max(0)
    }
}

/// A maxSurge or maxUnavailable value: a count, or a percentage of `spec.replicas`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    Count(i64),
    Percent(i64),
}

impl Amount {
    /// Read an int-or-string value (`3`, `"25%"`); `None` when it is neither.
    pub fn parse(value: &serde_json::Value) -> Option<Amount> {
        if let Some(n) = value.as_i64() {
            return Some(Amount::Count(n));
        }
        let text = value.as_str()?;
        match text.strip_suffix('%') {
            Some(percent) => percent.parse().ok().map(Amount::Percent),
            // Kubernetes reads a string without `%` as a number too.
            None => text.parse().ok().map(Amount::Count),
        }
    }

    /// Its value for `total` replicas, a percentage rounded up or down.
    pub fn scaled(self, total: i64, round_up: bool) -> i64 {
        match self {
            Amount::Count(n) => n,
            Amount::Percent(p) => {
                let product = p.saturating_mul(total);
                if round_up {
                    product.div_euclid(100) + i64::from(product.rem_euclid(100) != 0)
                } else {
                    product.div_euclid(100)
                }
            }
        }
    }
}

/// maxSurge and maxUnavailable for `replicas`, as `ResolveFenceposts`: surge rounds up,
/// unavailability rounds down, and when both come to zero one pod may be unavailable (else the
/// rollout could never start).
pub fn fenceposts(surge: Amount, unavailable: Amount, replicas: i64) -> (i64, i64) {
    let surge = surge.scaled(replicas, true).max(0);
    let unavailable = unavailable.scaled(replicas, false).max(0);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

/// The size the new ReplicaSet may grow to now: up to `replicas`, while every ReplicaSet's
/// pods together stay within `replicas + surge`.
pub fn new_replica_set_size(replicas: i64, surge: i64, new: &Counted, all: &[&Counted]) -> i64 {
    if new.replicas >= replicas {
        return replicas;
    }
    let current: i64 = all.iter().map(|rs| rs.footprint()).sum();
    let ceiling = replicas + surge;
    if current >= ceiling {
        return new.replicas;
    }
    new.replicas + (ceiling - current).min(replicas - new.replicas)
}

/// The sizes old ReplicaSets may shrink to now (name, new size), oldest first: first the pods
/// that are not available anyway (they cost no availability), then available ones while at
/// least `replicas - unavailable` pods stay available.
pub fn old_replica_set_sizes(
    replicas: i64,
    unavailable: i64,
    new: Option<&Counted>,
    old: &[&Counted],
) -> Vec<(String, i64)> {
    let mut old: Vec<Counted> = old.iter().map(|rs| (*rs).clone()).collect();
    old.sort_by(|a, b| a.age.cmp(&b.age));
    let old_pods: i64 = old.iter().map(|rs| rs.replicas).sum();
    if old_pods == 0 {
        return Vec::new();
    }
    let new_replicas = new.map_or(0, |rs| rs.replicas);
    let all_pods = old_pods + new_replicas;
    let min_available = replicas - unavailable;
    let new_unavailable = new.map_or(0, |rs| (rs.replicas - rs.lasting_available()).max(0));
    let most = all_pods - min_available - new_unavailable;
    if most <= 0 {
        return Vec::new();
    }
    let original: Vec<i64> = old.iter().map(|rs| rs.replicas).collect();
    // Unhealthy pods first: scaling them away costs no availability.
    let mut cleaned = 0;
    for rs in old.iter_mut() {
        if cleaned >= most {
            break;
        }
        let unhealthy = rs.replicas - rs.lasting_available();
        if rs.replicas == 0 || unhealthy <= 0 {
            continue;
        }
        let down = unhealthy.min(most - cleaned);
        rs.replicas -= down;
        cleaned += down;
    }
    // Then available ones, down to the availability floor.
    let available: i64 = old.iter().map(|rs| rs.lasting_available()).sum::<i64>()
        + new.map_or(0, |rs| rs.lasting_available());
    if available > min_available {
        let mut budget = available - min_available;
        for rs in old.iter_mut() {
            if budget <= 0 {
                break;
            }
            if rs.replicas == 0 {
                continue;
            }
            let down = rs.replicas.min(budget);
            rs.replicas -= down;
            budget -= down;
        }
    }
    old.into_iter()
        .zip(original)
        .filter(|(rs, before)| rs.replicas != *before)
        .map(|(rs, _)| (rs.name, rs.replicas))
        .collect()
}

/// How a change of `spec.replicas` during a rollout is spread (name, new size): each active
/// ReplicaSet grows or shrinks in proportion to its share of what the Deployment last allowed
/// (`max-replicas`), rounded, and what rounding leaves goes to the largest. `surge` is for the
/// new `replicas`; `fallback_total` stands in for a missing `max-replicas` (the Deployment's
/// `status.replicas`).
pub fn proportional_sizes(
    replicas: i64,
    surge: i64,
    fallback_total: i64,
    active: &[&Counted],
) -> Vec<(String, i64)> {
    let allowed = if replicas > 0 { replicas + surge } else { 0 };
    let current: i64 = active.iter().map(|rs| rs.replicas).sum();
    let to_add = allowed - current;
    let mut ordered: Vec<&Counted> = active.to_vec();
    // Growing favours the larger, then the newer; shrinking the larger, then the older.
    if to_add > 0 {
        ordered.sort_by(|a, b| b.replicas.cmp(&a.replicas).then(b.age.cmp(&a.age)));
    } else {
        ordered.sort_by(|a, b| b.replicas.cmp(&a.replicas).then(a.age.cmp(&b.age)));
    }
    let mut sizes: Vec<(String, i64)> = Vec::new();
    let mut added = 0;
    for rs in &ordered {
        let mut size = rs.replicas;
        if to_add != 0 && rs.replicas != 0 && to_add != added {
            let fraction = if replicas == 0 {
                -rs.replicas
            } else {
                let annotated = rs.max_replicas.unwrap_or(fallback_total);
                if annotated == 0 {
                    0
                } else {
                    // Go's math.Round: halves away from zero, as f64::round.
                    let share = (rs.replicas * (replicas + surge)) as f64 / annotated as f64;
                    share.round() as i64 - rs.replicas
                }
            };
            let left = to_add - added;
            let proportion = if to_add > 0 {
                fraction.min(left)
            } else {
                fraction.max(left)
            };
            size += proportion;
            added += proportion;
        }
        sizes.push((rs.name.clone(), size));
    }
    if to_add != 0
        && let Some(first) = sizes.first_mut()
    {
        first.1 = (first.1 + to_add - added).max(0);
    }
    sizes
        .into_iter()
        .zip(ordered)
        .filter(|((_, size), rs)| *size != rs.replicas)
        .map(|(sized, _)| sized)
        .collect()
}

#[cfg(test)]
mod tests {
    //! given (replicas, strategy, ReplicaSets) / when sized / then sizes, against the values
    //! Kubernetes' own tables give.
    use super::*;
    use serde_json::json;

    fn rs(name: &str, replicas: i64, available: i64) -> Counted {
        Counted {
            name: name.into(),
            replicas,
            active: replicas,
            available,
            max_replicas: None,
            age: (
                format!("2026-01-01T00:00:0{}Z", name.len() % 10),
                name.into(),
            ),
        }
    }

    #[test]
    fn amounts_read_counts_and_percentages() {
        assert_eq!(Amount::parse(&json!(3)), Some(Amount::Count(3)));
        assert_eq!(Amount::parse(&json!("25%")), Some(Amount::Percent(25)));
        assert_eq!(Amount::parse(&json!("2")), Some(Amount::Count(2)));
        assert_eq!(Amount::parse(&json!("x%")), None);
        assert_eq!(Amount::parse(&json!(null)), None);
    }

    #[test]
    fn surge_rounds_up_and_unavailability_rounds_down() {
        // replicas, surge, unavailable => resolved, as kube's TestResolveFenceposts.
        let table = [
            (10, Amount::Percent(25), Amount::Percent(25), (3, 2)),
            (4, Amount::Percent(25), Amount::Percent(25), (1, 1)),
            (1, Amount::Percent(25), Amount::Percent(25), (1, 0)),
            (3, Amount::Percent(50), Amount::Percent(50), (2, 1)),
            (5, Amount::Count(0), Amount::Count(0), (0, 1)),
            (0, Amount::Percent(25), Amount::Percent(25), (0, 1)),
            (4, Amount::Count(3), Amount::Count(3), (3, 3)),
            (100, Amount::Percent(1), Amount::Percent(1), (1, 1)),
            (99, Amount::Percent(1), Amount::Percent(1), (1, 0)),
            (10, Amount::Percent(0), Amount::Percent(10), (0, 1)),
        ];
        for (replicas, surge, unavailable, want) in table {
            assert_eq!(
                fenceposts(surge, unavailable, replicas),
                want,
                "{replicas} {surge:?} {unavailable:?}"
            );
        }
    }

    #[test]
    fn the_new_replica_set_grows_within_the_surge() {
        // replicas 10, surge 3: 13 pods at most.
        let old = rs("old", 10, 10);
        let new = rs("new", 0, 0);
        assert_eq!(new_replica_set_size(10, 3, &new, &[&old, &new]), 3);
        let old = rs("old", 8, 8);
        let new = rs("new", 3, 3);
        assert_eq!(new_replica_set_size(10, 3, &new, &[&old, &new]), 5);
        // Pods an old ReplicaSet still has beyond its size count until they are gone.
        let mut old = rs("old", 6, 6);
        old.active = 8;
        assert_eq!(new_replica_set_size(10, 3, &new, &[&old, &new]), 5);
        old.active = 6;
        assert_eq!(new_replica_set_size(10, 3, &new, &[&old, &new]), 7);
        // Never beyond replicas, and a larger one shrinks to it.
        let new = rs("new", 9, 9);
        let old = rs("old", 0, 0);
        assert_eq!(new_replica_set_size(10, 3, &new, &[&old, &new]), 10);
        let new = rs("new", 12, 12);
        assert_eq!(new_replica_set_size(10, 3, &new, &[&new]), 10);
        // No surge: the new one waits for the old ones to shrink.
        let old = rs("old", 10, 10);
        let new = rs("new", 0, 0);
        assert_eq!(new_replica_set_size(10, 0, &new, &[&old, &new]), 0);
    }

    #[test]
    fn old_replica_sets_shrink_only_to_the_availability_floor() {
        // replicas 10, unavailable 2: 8 must stay available.
        let old = rs("old", 10, 10);
        let new = rs("new", 3, 0);
        // 13 pods, 3 new ones not yet available: 13 - 8 - 3 = 2 may go.
        assert_eq!(
            old_replica_set_sizes(10, 2, Some(&new), &[&old]),
            [("old".to_string(), 8)]
        );
        // The new ones became available: 13 available, 5 above the floor.
        let new = rs("new", 3, 3);
        assert_eq!(
            old_replica_set_sizes(10, 2, Some(&new), &[&old]),
            [("old".to_string(), 5)]
        );
        // At the floor nothing goes.
        let old = rs("old", 8, 8);
        let new = rs("new", 5, 0);
        assert!(old_replica_set_sizes(10, 2, Some(&new), &[&old]).is_empty());
    }

    #[test]
    fn unavailable_old_pods_go_first_and_the_oldest_set_before_newer_ones() {
        let mut older = rs("a", 4, 1);
        older.age = ("2026-01-01T00:00:00Z".into(), "a".into());
        let mut newer = rs("b", 4, 4);
        newer.age = ("2026-01-01T00:00:05Z".into(), "b".into());
        let new = rs("new", 2, 2);
        // replicas 8, unavailable 2: floor 6. 10 pods, 0 new unavailable: 4 may go.
        // 3 unavailable in `a` go first, then 1 available (7 available, floor 6).
        assert_eq!(
            old_replica_set_sizes(8, 2, Some(&new), &[&newer, &older]),
            [("a".to_string(), 0)]
        );
    }

    #[test]
    fn a_scale_during_a_rollout_is_spread_in_proportion() {
        // kube's TestScale "proportional scaling": 10 -> 20 with old 6 and new 4, surge 2
        // (max-replicas 12): old 6 * 22 / 12 = 11, new 4 * 22 / 12 = 7.33 -> 7; the 4 that
        // rounding left go to the largest.
        let mut old = rs("old", 6, 6);
        old.max_replicas = Some(12);
        old.age = ("2026-01-01T00:00:00Z".into(), "old".into());
        let mut new = rs("new", 4, 4);
        new.max_replicas = Some(12);
        new.age = ("2026-01-01T00:00:09Z".into(), "new".into());
        let sizes = proportional_sizes(20, 2, 10, &[&new, &old]);
        let total: i64 = sizes.iter().map(|(_, s)| s).sum();
        assert_eq!(total, 22);
        assert!(sizes.contains(&("old".to_string(), 15)), "{sizes:?}");
        assert!(sizes.contains(&("new".to_string(), 7)), "{sizes:?}");
        // 10 -> 5 (surge 1 → allowed 6): old 6 * 6 / 12 = 3, new 4 * 6 / 12 = 2; 1 left.
        let sizes = proportional_sizes(5, 1, 10, &[&new, &old]);
        let total: i64 = sizes.iter().map(|(_, s)| s).sum();
        assert_eq!(total, 6, "{sizes:?}");
        // To zero: everything goes.
        let sizes = proportional_sizes(0, 0, 10, &[&new, &old]);
        assert_eq!(sizes.iter().map(|(_, s)| s).sum::<i64>(), 0);
    }
}
