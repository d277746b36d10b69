//! Controller election: the controllers run on one server of those sharing a log, the holder
//! of the `coordination.k8s.io/v1` Lease `kube-system/kubetrail-controllers`, with client-go
//! leaderelection's semantics. `Candidate::decide` is the pure step (create, renew, take over
//! or follow); `run_election_until_stopped` runs it and publishes whether this server leads
//! (`Leadership`). It writes only the Lease, through `Submit`, and never starts a controller.
//!
//! Every claim is a write of the Lease as read, carrying its `metadata.resourceVersion`: of two
//! servers racing for it one commits and the other gets a 409 Conflict and follows. A Lease is
//! held for `leaseDurationSeconds` after a server *saw* it last change (its own clock, so no
//! two servers' clocks are compared); the leader stops claiming once it has gone
//! `renew_deadline` without a renewal, before the Lease can expire for anyone else.

use super::Submit;
use super::cache::Informer;
use crate::api::actors;
use crate::events::{Command, RequestMeta, UpdatePart};
use crate::health::Health;
use crate::model::meta::Lookup as _;
use crate::model::{ResourceKind, meta};
use crate::shutdown::Shutdown;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{OwnedRwLockReadGuard, RwLock, watch};

/// Where the Lease is.
pub const LEASE_NAMESPACE: &str = "kube-system";
/// The Lease's name.
pub const LEASE_NAME: &str = "kubetrail-controllers";

/// The election's periods, client-go's defaults (kube-scheduler's and kube-controller-manager's)
/// but for `renew_every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How long a claim holds after it was last seen renewed (`leaseDurationSeconds`).
    pub lease_duration: Duration,
    /// How long the leader goes on without a successful renewal before it stops leading.
    pub renew_deadline: Duration,
    /// How often a follower looks at the Lease, and how soon a failed write is tried again.
    pub retry_period: Duration,
    /// How often the leader renews while its renewals succeed: client-go renews every retry
    /// period (2 s); every 5 s writes 2.5 times fewer events and still leaves a retry at 7 s
    /// and 9 s before the renew deadline.
    pub renew_every: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
            renew_every: Duration::from_secs(5),
        }
    }
}

impl Timing {
    fn lease_seconds(&self) -> i64 {
        i64::try_from(self.lease_duration.as_secs().max(1)).unwrap_or(i64::MAX)
    }
}

/// This process's identity in the Lease: the host name, `_`, a random uuid (as
/// kube-controller-manager's), so a restarted server is a new candidate.
pub fn identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    format!("{host}_{}", uuid::Uuid::new_v4())
}

/// What a claim does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// No Lease yet: create it, held by this server.
    Create,
    /// This server holds it: renew it.
    Renew,
    /// Released, or expired since it was last seen to change: take it over.
    TakeOver,
}

/// The step `Candidate::decide` takes.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Submit `command`; once it commits this server leads.
    Claim { claim: Claim, command: Command },
    /// `holder` holds an unexpired Lease: follow, look again later.
    Follow { holder: String },
}

/// The Lease's spec as this server last saw it change, and when (client-go's observedRecord
/// and observedTime).
#[derive(Debug, Clone, PartialEq)]
struct Observed {
    spec: Value,
    at: Instant,
}

/// One server's side of the election: who it is and what it has seen of the Lease.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub identity: String,
    pub timing: Timing,
    /// No other server can write this log (a SQLite data directory, locked by its one
    /// server): a Lease held by another identity is a dead process's, taken over at once.
    pub sole: bool,
    observed: Option<Observed>,
}

impl Candidate {
    pub fn new(identity: String, timing: Timing) -> Self {
        Candidate {
            identity,
            timing,
            sole: false,
            observed: None,
        }
    }

    /// The candidate of the log's only possible server (`sole`).
    pub fn sole(self) -> Self {
        Candidate { sole: true, ..self }
    }

    /// The step at `now` (`now_micro`: the same moment as a MicroTime) given the Lease as the
    /// informer holds it: create it when there is none; renew it when it is this server's;
    /// take it over when it was released (no holder) or has not changed for its
    /// `leaseDurationSeconds` since this server first saw it so (at once when `sole`);
    /// otherwise follow. Every write
    /// of an existing Lease carries its `resourceVersion`.
    pub fn decide(&mut self, lease: Option<&Value>, now: Instant, now_micro: &str) -> Decision {
        let Some(lease) = lease else {
            self.observed = None;
            return Decision::Claim {
                claim: Claim::Create,
                command: Command::Create {
                    kind: ResourceKind::Lease,
                    namespace: LEASE_NAMESPACE.to_string(),
                    object: self.new_lease(now_micro),
                },
            };
        };
        let spec = lease.get("spec").cloned().unwrap_or(Value::Null);
        if self.observed.as_ref().is_none_or(|o| o.spec != spec) {
            self.observed = Some(Observed {
                spec: spec.clone(),
                at: now,
            });
        }
        let holder = spec.str_at("/holderIdentity").to_string();
        let claim = if holder == self.identity {
            Claim::Renew
        } else if !holder.is_empty() && !self.sole && self.unexpired(&spec, now) {
            return Decision::Follow { holder };
        } else {
            Claim::TakeOver
        };
        let mut next = lease.clone();
        let transitions = spec.i64_at("/leaseTransitions").unwrap_or(0).max(0);
        let mut fields = json!({
            "holderIdentity": self.identity,
            "leaseDurationSeconds": self.timing.lease_seconds(),
            "renewTime": now_micro,
        });
        if claim == Claim::TakeOver {
            fields["acquireTime"] = json!(now_micro);
            fields["leaseTransitions"] = json!(transitions.saturating_add(1));
        }
        set_spec(&mut next, fields);
        Decision::Claim {
            claim,
            command: update(next),
        }
    }

    /// Whether the Lease, last seen to change at `self.observed`, still holds at `now`.
    fn unexpired(&self, spec: &Value, now: Instant) -> bool {
        let seconds = spec.i64_at("/leaseDurationSeconds").unwrap_or(0).max(0);
        let duration = Duration::from_secs(u64::try_from(seconds).unwrap_or(0));
        self.observed
            .as_ref()
            .is_some_and(|o| now.saturating_duration_since(o.at) < duration)
    }

    /// The Lease, new, held by this server since `now_micro`.
    fn new_lease(&self, now_micro: &str) -> Value {
        json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": LEASE_NAME, "namespace": LEASE_NAMESPACE},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": self.timing.lease_seconds(),
                "acquireTime": now_micro,
                "renewTime": now_micro,
                "leaseTransitions": 0,
            },
        })
    }

    /// The write that gives the Lease up at `now_micro` (client-go's ReleaseOnCancel: no holder,
    /// held for 1 s, transitions kept), when it is this server's.
    pub fn release(&self, lease: Option<&Value>, now_micro: &str) -> Option<Command> {
        let lease = lease?;
        if lease.str_at("/spec/holderIdentity") != self.identity {
            return None;
        }
        let mut next = lease.clone();
        set_spec(
            &mut next,
            json!({
                "holderIdentity": "",
                "leaseDurationSeconds": 1,
                "acquireTime": now_micro,
                "renewTime": now_micro,
            }),
        );
        Some(update(next))
    }
}

/// `fields` set in `lease`'s spec (the rest of the spec kept).
fn set_spec(lease: &mut Value, fields: Value) {
    let Some(root) = lease.as_object_mut() else {
        return;
    };
    let spec = root.entry("spec").or_insert_with(|| json!({}));
    if !spec.is_object() {
        *spec = json!({});
    }
    if let (Some(spec), Value::Object(fields)) = (spec.as_object_mut(), fields) {
        spec.extend(fields);
    }
}

/// An Update of the Lease with `next` (which keeps the `resourceVersion` it was read at).
fn update(next: Value) -> Command {
    Command::Update {
        kind: ResourceKind::Lease,
        namespace: LEASE_NAMESPACE.to_string(),
        name: LEASE_NAME.to_string(),
        object: next,
        part: UpdatePart::Main,
    }
}

/// Whether this server leads, as the election publishes it, and the terms of the controllers
/// that run while it does. Cloned by every controller; the election holds `Elected`.
#[derive(Clone)]
pub struct Leadership {
    leading: watch::Receiver<bool>,
    terms: Arc<RwLock<()>>,
}

/// The election's side of `Leadership`: publishes whether this server leads.
pub struct Elected {
    leading: watch::Sender<bool>,
    terms: Arc<RwLock<()>>,
    health: Option<Arc<Health>>,
}

/// A controller's term: held while it runs as the leader's; the election releases the Lease
/// only once no term is held.
pub struct Term {
    _held: OwnedRwLockReadGuard<()>,
}

/// A new election's two sides, following; `health` (when given) shows whether this server
/// leads in `/metrics`.
pub fn leadership(health: Option<Arc<Health>>) -> (Arc<Elected>, Leadership) {
    let (tx, rx) = watch::channel(false);
    let terms = Arc::new(RwLock::new(()));
    if let Some(health) = &health {
        health.leading(false);
    }
    (
        Arc::new(Elected {
            leading: tx,
            terms: terms.clone(),
            health,
        }),
        Leadership { leading: rx, terms },
    )
}

impl Elected {
    fn publish(&self, leads: bool) {
        let changed = self.leading.send_if_modified(|current| {
            let changed = *current != leads;
            *current = leads;
            changed
        });
        if let Some(health) = &self.health {
            health.leading(leads);
        }
        if changed {
            tracing::info!(leads, "controller election");
        }
    }

    /// Wait (at most `bound`) until no controller's term is held.
    async fn terms_ended(&self, bound: Duration) -> bool {
        tokio::time::timeout(bound, self.terms.write())
            .await
            .is_ok()
    }
}

impl Leadership {
    /// Whether this server leads now.
    pub fn leads(&self) -> bool {
        *self.leading.borrow()
    }

    /// Wait until this server leads: its term, or `None` when the election is gone.
    pub async fn term(&mut self) -> Option<Term> {
        loop {
            self.leading.wait_for(|leads| *leads).await.ok()?;
            let held = self.terms.clone().read_owned().await;
            // The leadership may have ended while the term was being taken (the release
            // waits for the terms): then wait for the next.
            if self.leads() {
                return Some(Term { _held: held });
            }
        }
    }

    /// Wait until this server no longer leads (or the election is gone).
    pub async fn lost(&mut self) {
        let _ = self.leading.wait_for(|leads| !*leads).await;
    }
}

/// Publishes `false` when dropped: an election stopped in any way (a panic, an abort) leads no
/// more.
struct Stepping(Arc<Elected>);

impl Drop for Stepping {
    fn drop(&mut self) {
        self.0.publish(false);
    }
}

/// Run the election as `candidate` until shutdown: each retry period (each `renew_every`
/// while leading) a `decide` over the informer's Lease and its write, as
/// `actors::CONTROLLER_MANAGER`. This server leads from a committed claim until a renew
/// deadline passes without one, or until the Lease is seen held by another. On shutdown the
/// leader stops leading, waits for its controllers' terms to end and releases the Lease, so
/// another server takes over at once.
pub async fn run_election_until_stopped<S: Submit + ?Sized>(
    sink: Arc<S>,
    informer: Informer,
    mut candidate: Candidate,
    elected: Arc<Elected>,
    mut shutdown: Shutdown,
) {
    let timing = candidate.timing;
    let stepping = Stepping(elected.clone());
    // When the last committed claim was submitted: this server leads until `renew_deadline`
    // after it.
    let mut renewed: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let decision = {
            let snapshot = informer.read();
            let lease = snapshot.get(ResourceKind::Lease, LEASE_NAMESPACE, LEASE_NAME);
            candidate.decide(lease.map(|l| l.as_ref()), now, &micro_now())
        };
        let rest = match decision {
            Decision::Follow { holder } => {
                if renewed.take().is_some() {
                    tracing::warn!(%holder, "the controllers' Lease is held by another server");
                }
                elected.publish(false);
                timing.retry_period
            }
            Decision::Claim { claim, command } => {
                // A leader's write may take only what is left of its renew deadline.
                let bound = renewed.map_or(timing.renew_deadline, |at| {
                    (at + timing.renew_deadline).saturating_duration_since(now)
                });
                let meta = RequestMeta::worker(actors::CONTROLLER_MANAGER);
                match tokio::time::timeout(bound, sink.submit_command(command, meta)).await {
                    Ok(Ok(seq)) => {
                        renewed = Some(now);
                        elected.publish(true);
                        // The next look reads this write (or later): a stale Lease would only
                        // earn a Conflict.
                        let _ =
                            tokio::time::timeout(timing.retry_period, informer.wait_for(seq)).await;
                        timing.renew_every
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(?claim, error = %e, "controllers' Lease not written");
                        timing.retry_period
                    }
                    Err(_) => {
                        tracing::warn!(?claim, "the controllers' Lease write timed out");
                        timing.retry_period
                    }
                }
            }
        };
        let deadline = renewed.map(|at| at + timing.renew_deadline);
        if deadline.is_some_and(|d| d <= Instant::now()) {
            step_down(&mut renewed, &elected);
            continue;
        }
        tokio::select! {
            _ = shutdown.wait() => break,
            _ = tokio::time::sleep(rest) => {}
            _ = sleep_until(deadline) => step_down(&mut renewed, &elected),
        }
    }
    if renewed.is_some() {
        elected.publish(false);
        release(sink.as_ref(), &informer, &candidate, &elected).await;
    }
    drop(stepping);
}

/// A renew deadline passed without a committed renewal: stop leading (the controllers stop)
/// before the Lease can expire for the other servers.
fn step_down(renewed: &mut Option<Instant>, elected: &Elected) {
    if renewed.take().is_some() {
        tracing::warn!("no renewal of the controllers' Lease within the renew deadline");
    }
    elected.publish(false);
}

/// Give the Lease up once the controllers' terms have ended (at most a few seconds: the
/// server is stopping).
async fn release<S: Submit + ?Sized>(
    sink: &S,
    informer: &Informer,
    candidate: &Candidate,
    elected: &Elected,
) {
    const BOUND: Duration = Duration::from_secs(2);
    if !elected.terms_ended(BOUND).await {
        tracing::warn!("controllers still running at shutdown; the Lease is left to expire");
        return;
    }
    let command = {
        let snapshot = informer.read();
        let lease = snapshot.get(ResourceKind::Lease, LEASE_NAMESPACE, LEASE_NAME);
        candidate.release(lease.map(|l| l.as_ref()), &micro_now())
    };
    let Some(command) = command else {
        return;
    };
    let meta = RequestMeta::worker(actors::CONTROLLER_MANAGER);
    match tokio::time::timeout(BOUND, sink.submit_command(command, meta)).await {
        Ok(Ok(_)) => tracing::info!("released the controllers' Lease"),
        Ok(Err(e)) => tracing::warn!(error = %e, "the controllers' Lease was not released"),
        Err(_) => tracing::warn!("releasing the controllers' Lease timed out"),
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

fn micro_now() -> String {
    meta::format_micro_time(jiff::Timestamp::now())
}

/// The holder the Lease names, if any (for `kubetrail status`).
pub fn holder(lease: &Value) -> Option<&str> {
    Some(lease.str_at("/spec/holderIdentity")).filter(|h| !h.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: &str = "2026-01-02T03:04:05.000000Z";
    const T1: &str = "2026-01-02T03:04:25.000000Z";

    fn candidate(identity: &str) -> Candidate {
        Candidate::new(identity.to_string(), Timing::default())
    }

    fn written(decision: Decision) -> (Claim, Value) {
        match decision {
            Decision::Claim {
                claim,
                command: Command::Create { object, .. } | Command::Update { object, .. },
            } => (claim, object),
            other => panic!("a claim expected, got {other:?}"),
        }
    }

    /// The Lease held by `holder`, as the informer holds it at resourceVersion 7.
    fn held_by(holder: &str, transitions: i64) -> Value {
        json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": LEASE_NAME, "namespace": LEASE_NAMESPACE,
                         "resourceVersion": "7", "uid": "u"},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15,
                     "acquireTime": T0, "renewTime": T0, "leaseTransitions": transitions},
        })
    }

    #[test]
    fn a_missing_lease_is_created_held_by_this_server() {
        let (claim, lease) = written(candidate("a").decide(None, Instant::now(), T0));
        assert_eq!(claim, Claim::Create);
        assert_eq!(
            lease["spec"],
            json!({"holderIdentity": "a", "leaseDurationSeconds": 15, "acquireTime": T0,
                   "renewTime": T0, "leaseTransitions": 0})
        );
        assert_eq!(lease["metadata"]["namespace"], LEASE_NAMESPACE);
        assert_eq!(lease["metadata"]["name"], LEASE_NAME);
    }

    #[test]
    fn our_lease_is_renewed_at_its_resource_version_keeping_acquire_time_and_transitions() {
        let (claim, lease) =
            written(candidate("a").decide(Some(&held_by("a", 3)), Instant::now(), T1));
        assert_eq!(claim, Claim::Renew);
        assert_eq!(lease["metadata"]["resourceVersion"], "7");
        assert_eq!(lease["spec"]["renewTime"], T1);
        assert_eq!(lease["spec"]["acquireTime"], T0);
        assert_eq!(lease["spec"]["leaseTransitions"], 3);
    }

    #[test]
    fn another_servers_fresh_lease_is_followed_until_it_stops_changing_for_its_duration() {
        let mut b = candidate("b");
        let start = Instant::now();
        let lease = held_by("a", 0);
        assert_eq!(
            b.decide(Some(&lease), start, T0),
            Decision::Follow { holder: "a".into() }
        );
        // Renewed by its holder: the clock starts again from when it was seen.
        let mut renewed = lease.clone();
        renewed["spec"]["renewTime"] = json!(T1);
        let later = start + Duration::from_secs(14);
        assert!(matches!(
            b.decide(Some(&renewed), later, T1),
            Decision::Follow { .. }
        ));
        assert!(matches!(
            b.decide(Some(&renewed), later + Duration::from_secs(14), T1),
            Decision::Follow { .. }
        ));
        // Unchanged for its 15 s: taken over.
        let (claim, _) = written(b.decide(Some(&renewed), later + Duration::from_secs(15), T1));
        assert_eq!(claim, Claim::TakeOver);
    }

    #[test]
    fn an_expired_lease_is_taken_over_with_one_more_transition() {
        let mut b = candidate("b");
        let start = Instant::now();
        let lease = held_by("a", 2);
        assert!(matches!(
            b.decide(Some(&lease), start, T0),
            Decision::Follow { .. }
        ));
        let (claim, taken) = written(b.decide(Some(&lease), start + Duration::from_secs(16), T1));
        assert_eq!(claim, Claim::TakeOver);
        assert_eq!(taken["metadata"]["resourceVersion"], "7");
        assert_eq!(
            taken["spec"],
            json!({"holderIdentity": "b", "leaseDurationSeconds": 15, "acquireTime": T1,
                   "renewTime": T1, "leaseTransitions": 3})
        );
    }

    #[test]
    fn a_lease_first_seen_is_given_its_whole_duration_whatever_its_renew_time_says() {
        // Another server's clock is not compared with ours: an old renewTime is no expiry.
        let mut b = candidate("b");
        let mut lease = held_by("a", 0);
        lease["spec"]["renewTime"] = json!("2000-01-01T00:00:00.000000Z");
        assert!(matches!(
            b.decide(Some(&lease), Instant::now(), T1),
            Decision::Follow { .. }
        ));
    }

    #[test]
    fn the_sole_server_of_a_log_takes_a_dead_processs_lease_at_once() {
        let mut restarted = candidate("b").sole();
        let (claim, taken) = written(restarted.decide(Some(&held_by("a", 0)), Instant::now(), T1));
        assert_eq!(claim, Claim::TakeOver);
        assert_eq!(taken["spec"]["leaseTransitions"], 1);
    }

    #[test]
    fn a_released_lease_is_taken_at_once() {
        let a = candidate("a");
        let release = a
            .release(Some(&held_by("a", 1)), T1)
            .expect("ours to release");
        let Command::Update {
            object: released, ..
        } = release
        else {
            panic!("an update expected");
        };
        assert_eq!(released["metadata"]["resourceVersion"], "7");
        assert_eq!(released["spec"]["holderIdentity"], "");
        assert_eq!(released["spec"]["leaseDurationSeconds"], 1);
        assert_eq!(released["spec"]["leaseTransitions"], 1);

        let (claim, taken) = written(candidate("b").decide(Some(&released), Instant::now(), T1));
        assert_eq!(claim, Claim::TakeOver);
        assert_eq!(taken["spec"]["holderIdentity"], "b");
        assert_eq!(taken["spec"]["leaseTransitions"], 2);
    }

    #[test]
    fn only_the_holder_releases() {
        assert_eq!(candidate("b").release(Some(&held_by("a", 0)), T1), None);
        assert_eq!(candidate("b").release(None, T1), None);
    }

    #[test]
    fn an_identity_is_the_host_and_a_uuid_new_each_time() {
        let (one, two) = (identity(), identity());
        assert_ne!(one, two);
        let (host, id) = one.rsplit_once('_').expect("host_uuid");
        assert!(!host.is_empty());
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{one}");
    }

    #[tokio::test]
    async fn a_term_is_held_only_while_leading_and_ends_before_the_release() {
        let (elected, mut leadership) = leadership(None);
        assert!(!leadership.leads());
        elected.publish(true);
        let term = leadership.term().await.expect("a term");
        elected.publish(false);
        leadership.lost().await;
        assert!(!elected.terms_ended(Duration::from_millis(50)).await);
        drop(term);
        assert!(elected.terms_ended(Duration::from_secs(1)).await);
    }

    #[tokio::test]
    async fn a_term_asked_for_while_the_release_waits_begins_with_the_next_leadership() {
        let (elected, mut leadership) = leadership(None);
        elected.publish(true);
        // The election holds the terms (as the release does) and stops leading meanwhile.
        let releasing = elected.terms.clone().write_owned().await;
        let asking = tokio::spawn(async move { leadership.term().await.is_some() });
        tokio::time::sleep(Duration::from_millis(50)).await;
        elected.publish(false);
        drop(releasing);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !asking.is_finished(),
            "no term while following, and no giving up"
        );
        elected.publish(true);
        let began = tokio::time::timeout(Duration::from_secs(1), asking)
            .await
            .expect("a term with the next leadership")
            .expect("task");
        assert!(began);
    }
}
