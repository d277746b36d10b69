//! The one shape of an in-process controller: a named actor, what wakes it, and a pure pass
//! from an informer snapshot to commands (`Pass`), each carrying the seq that caused it.
//! `controllers` lists every controller the server runs; `run_controller_until_stopped` is the
//! one loop that runs any of them. Kubelets are not controllers of this shape (they also act on
//! a runtime), but write through the same `Submit`.

use super::cache::{Informer, Snapshot};
use super::stored::{StoreReader, StoreReads, Stored};
use super::{
    Pass, deployment, endpoints, eventttl, gc, namespace, nodes, pace, replicaset, run_chains,
    run_commands, run_slow_start, serviceaccount,
};
use super::{scheduler, wait_for_change};
use crate::events::{EventLog, RequestMeta};
use crate::model::ResourceKind;
use crate::shutdown::Shutdown;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a controller reads: a mark of the snapshot that moves whenever something the
/// controller decides from may have changed. A pass is skipped while the mark stands still
/// (until `tick` has passed since the last one), so a controller that follows a few kinds does
/// not re-read the whole cluster for every pod status.
pub type Interest = fn(&Snapshot) -> u64;

/// Every change matters.
pub fn any_change(snapshot: &Snapshot) -> u64 {
    snapshot.seq.max(0) as u64
}

/// Every change but a Lease's: what a controller that reads no Leases follows, so the nodes'
/// renewals (one per node every heartbeat period) do not start its passes.
pub fn any_change_but_leases(snapshot: &Snapshot) -> u64 {
    ResourceKind::ALL
        .into_iter()
        .filter(|kind| *kind != ResourceKind::Lease)
        .map(|kind| snapshot.changes_of(kind))
        .sum()
}

/// When a controller runs a pass: when `interest` moves, and at least every `tick` (for what
/// changes with the clock alone, such as a node's heartbeat growing old).
#[derive(Debug, Clone, Copy)]
pub struct Wake {
    pub tick: Duration,
    pub interest: Interest,
}

/// A level-triggered controller: it reconciles state, not events, so a pass over any snapshot
/// is safe to repeat. `reconcile` is the whole of its logic and is pure but for `now` (and
/// generated names and the rate limit of its core/v1 Events), so `replay --check-workers` can
/// run it on the states the log recorded.
pub trait Controller: Send + Sync {
    /// The actor it writes as (one of `api::actors::CONTROLLERS`); also its name in `/readyz`.
    fn actor(&self) -> &'static str;

    /// What wakes it.
    fn wake(&self) -> Wake;

    /// Whether it runs even when `WorkerSettings::controllers` is off (namespace deletion
    /// depends on the namespace controller).
    fn always_runs(&self) -> bool {
        false
    }

    /// What its passes read from the store besides the snapshot (the kinds the informer keeps
    /// nothing of).
    fn store_reads(&self) -> StoreReads {
        StoreReads::Nothing
    }

    /// One pass over `snapshot` and what was read from the store (`store_reads`) at `now`: the
    /// commands, each with the seq of the object version that caused it.
    fn reconcile(&self, snapshot: &Snapshot, stored: &Stored, now: jiff::Timestamp) -> Pass;
}

/// Every controller the server runs, in the order it starts them; `timing` is the node
/// lifecycle controller's, `event_ttl` the event TTL controller's. `history::check` replays
/// the decisions of exactly these.
pub fn controllers(timing: nodes::Timing, event_ttl: Duration) -> Vec<Box<dyn Controller>> {
    vec![
        Box::new(namespace::NamespaceController),
        Box::new(scheduler::Scheduler::new()),
        Box::new(deployment::DeploymentController::new()),
        Box::new(replicaset::ReplicaSetController::new()),
        Box::new(endpoints::EndpointsController),
        Box::new(endpoints::EndpointSliceController),
        Box::new(serviceaccount::ServiceAccountController),
        Box::new(gc::GarbageCollector),
        Box::new(nodes::NodeLifecycleController::new(timing)),
        Box::new(eventttl::EventTtlController { ttl: event_ttl }),
    ]
}

/// The loop every in-process controller runs: a pass over the current snapshot, its writes
/// (as the controller's actor), a wait until the informer reflects them, a rest in proportion
/// to the pass, then a wait for the next change (or tick). A change that leaves the
/// controller's interest where it was does not start a pass before the tick.
pub async fn run_controller_until_stopped(
    controller: Arc<dyn Controller>,
    log: EventLog,
    informer: Informer,
    mut shutdown: Shutdown,
) {
    let actor = controller.actor();
    let Wake { tick, interest } = controller.wake();
    let mut changes = informer.changes();
    let mut seen: Option<u64> = None;
    let mut accepted_groups = std::collections::HashSet::new();
    let mut last_pass = Instant::now();
    let mut reader = StoreReader::default();
    loop {
        let started = Instant::now();
        let due = {
            let mark = interest(&informer.read());
            (seen != Some(mark) || last_pass.elapsed() >= tick).then_some(mark)
        };
        let commands = match due {
            None => None,
            Some(mark) => {
                seen = Some(mark);
                last_pass = started;
                let now = jiff::Timestamp::now();
                match reader.read(controller.store_reads(), &informer, now).await {
                    Ok(stored) => Some(controller.reconcile(&informer.read(), &stored, now)),
                    Err(e) => {
                        // Skipped, not failed: the next tick reads again.
                        tracing::warn!(actor, error = %e, "a pass could not read the store");
                        None
                    }
                }
            }
        };
        let Some(Pass {
            commands,
            slow_start,
            chains,
        }) = commands
        else {
            if !wait_for_change(&mut changes, tick, &mut shutdown).await {
                return;
            }
            continue;
        };
        let cost = started.elapsed();
        let meta = || RequestMeta::worker(actor);
        let last = run_commands(&log, commands, meta)
            .await
            .max(run_slow_start(&log, slow_start, &mut accepted_groups, meta).await)
            .max(run_chains(&log, chains, meta).await);
        informer.wait_for(last).await;
        pace(cost).await;
        if !wait_for_change(&mut changes, tick, &mut shutdown).await {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::actors;

    #[test]
    fn the_registry_runs_exactly_the_controllers_api_names() {
        let registered: Vec<&str> =
            controllers(nodes::Timing::default(), eventttl::DEFAULT_EVENT_TTL)
                .iter()
                .map(|c| c.actor())
                .collect();
        assert_eq!(registered, actors::CONTROLLERS);
        for actor in registered {
            assert!(
                actors::is_controller(actor),
                "{actor} would count as a person"
            );
        }
    }

    #[test]
    fn only_the_namespace_controller_runs_with_controllers_off() {
        let always: Vec<&str> = controllers(nodes::Timing::default(), eventttl::DEFAULT_EVENT_TTL)
            .iter()
            .filter(|c| c.always_runs())
            .map(|c| c.actor())
            .collect();
        assert_eq!(always, [actors::NAMESPACE_CONTROLLER]);
    }

    #[test]
    fn the_node_lifecycle_controller_ticks_within_its_grace_period() {
        let timing = nodes::Timing {
            heartbeat: Duration::from_secs(1),
            grace: Duration::from_secs(4),
            ..nodes::Timing::default()
        };
        let registry = controllers(timing, eventttl::DEFAULT_EVENT_TTL);
        let node = registry
            .iter()
            .find(|c| c.actor() == actors::NODE_LIFECYCLE_CONTROLLER)
            .expect("registered");
        assert_eq!(node.wake().tick, Duration::from_secs(1));
        let fast = nodes::Timing {
            heartbeat: Duration::from_millis(10),
            grace: Duration::from_millis(40),
            ..nodes::Timing::default()
        };
        let node = nodes::NodeLifecycleController::new(fast);
        assert_eq!(node.wake().tick, Duration::from_millis(100));
    }

    #[test]
    fn a_lease_renewal_moves_no_interest_but_the_leases() {
        use crate::events::EventType;
        use serde_json::json;
        let mut snapshot = Snapshot::default();
        let lease = |rv: i64| {
            Arc::new(
                json!({"metadata": {"name": "n1", "namespace": "kube-node-lease",
                "uid": "l", "resourceVersion": rv.to_string()}}),
            )
        };
        snapshot.apply(ResourceKind::Lease, EventType::Created, lease(1), 1);
        let before = any_change_but_leases(&snapshot);
        snapshot.apply(ResourceKind::Lease, EventType::Updated, lease(2), 2);
        assert_eq!(any_change_but_leases(&snapshot), before);
        let pod = json!({"metadata": {"name": "p", "namespace": "default", "uid": "p",
            "resourceVersion": "3"}});
        snapshot.apply(ResourceKind::Pod, EventType::Created, Arc::new(pod), 3);
        assert_ne!(any_change_but_leases(&snapshot), before);
    }
}
