//! The controllers' election: a server with controllers on holds the Lease
//! `kube-system/kubetrail-controllers` (read through the API, renewed) and its controllers
//! run; on PostgreSQL, its controllers stopped while another holds the Lease and started
//! again once it expires; two runners of the election on one server's log, exactly one
//! leading; the leader killed (no release), the other leading once the Lease expires; the
//! leader stopped (the Lease released), another leading at once.

use crate::support::app::{TestApp, replicaset, start_with_workers};
use crate::support::internals::{Application, Informer, Settings, Shutdown, election};
use crate::support::wait::until;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

const LEASE: &str =
    "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kubetrail-controllers";

async fn lease(app: &TestApp) -> Value {
    let reply = app.get(LEASE).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body
}

#[tokio::test]
async fn a_server_holds_the_lease_renews_it_and_runs_its_controllers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = start_with_workers(dir, |_| {}).await;
    until(
        "the controllers' Lease is made",
        Duration::from_secs(10),
        || async { app.get(LEASE).await.status == 200 },
    )
    .await;
    let first = lease(&app).await;
    let holder = first["spec"]["holderIdentity"].as_str().unwrap_or("");
    let (host, id) = holder.rsplit_once('_').expect("host_uuid");
    assert!(
        !host.is_empty() && uuid::Uuid::parse_str(id).is_ok(),
        "{first}"
    );
    assert_eq!(first["spec"]["leaseDurationSeconds"], 15);
    let renewed = first["spec"]["renewTime"].clone();
    until("the Lease is renewed", Duration::from_secs(12), || async {
        let now = lease(&app).await;
        now["spec"]["renewTime"] != renewed && now["spec"]["holderIdentity"] == holder
    })
    .await;
    // Written as the election's actor, a control loop (no person's change), without a cause.
    let entries = app
        .get("/apis/kubetrail.dev/v1alpha1/logentries?kind=Lease&namespace=kube-system&actor=kubetrail-controller-manager&includeObject=false")
        .await;
    assert_eq!(entries.status, 200, "{}", entries.text);
    let items = entries.body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(items.len() >= 2, "created and renewed: {}", entries.text);

    let metrics = app.get("/metrics").await;
    assert!(
        metrics.text.contains("kubetrail_controllers_leading 1"),
        "{}",
        metrics.text
    );

    let created = app
        .post(
            "/apis/apps/v1/namespaces/default/replicasets",
            &replicaset("web", 2),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    until(
        "the leader's ReplicaSet controller makes 2 pods",
        Duration::from_secs(20),
        || async {
            let pods = app
                .send(
                    app.request(reqwest::Method::GET, "/api/v1/namespaces/default/pods")
                        .query(&[("labelSelector", "app=web")]),
                )
                .await;
            pods.body["items"].as_array().map_or(0, Vec::len) == 2
        },
    )
    .await;
    let readyz = app.get("/readyz?verbose").await;
    assert_eq!(readyz.status, 200, "{}", readyz.text);
}

async fn pods_of(app: &TestApp, name: &str) -> usize {
    let pods = app
        .send(
            app.request(reqwest::Method::GET, "/api/v1/namespaces/default/pods")
                .query(&[("labelSelector", format!("app={name}"))]),
        )
        .await;
    pods.body["items"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn controllers_stop_while_another_holds_the_lease_and_start_again_when_it_expires() {
    // On PostgreSQL, where other servers may share the log: a Lease held by another is
    // waited out.
    let url = crate::support::postgres::new_database().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let app = start_with_workers(dir, |s| s.database_url = Some(url)).await;
    until(
        "the server holds the Lease",
        Duration::from_secs(10),
        || async { app.get(LEASE).await.status == 200 },
    )
    .await;
    let ours = lease(&app).await["spec"]["holderIdentity"].clone();

    // Another holder, as far as the server can tell (written through the API at the Lease's
    // resourceVersion; a renewal in between is a 409: read again).
    until(
        "the Lease is taken by another",
        Duration::from_secs(10),
        || async {
            let mut stolen = lease(&app).await;
            stolen["spec"]["holderIdentity"] = "elsewhere_1".into();
            stolen["spec"]["renewTime"] = jiff::Timestamp::now()
                .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string()
                .into();
            app.put(LEASE, &stolen).await.status == 200
        },
    )
    .await;
    let stolen = Instant::now();
    until("the server follows", Duration::from_secs(8), || async {
        app.get("/metrics")
            .await
            .text
            .contains("kubetrail_controllers_leading 0")
    })
    .await;
    let created = app
        .post(
            "/apis/apps/v1/namespaces/default/replicasets",
            &replicaset("idle", 2),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(stolen.elapsed() < Duration::from_secs(15));
    assert_eq!(
        pods_of(&app, "idle").await,
        0,
        "a follower's controllers write nothing"
    );
    let readyz = app.get("/readyz?verbose").await;
    assert_eq!(readyz.status, 200, "a follower is ready: {}", readyz.text);

    // Unrenewed for 15 s: the server takes it over and its controllers carry on from the log.
    until(
        "the ReplicaSet's pods once the server leads again",
        Duration::from_secs(25),
        || async { pods_of(&app, "idle").await == 2 },
    )
    .await;
    assert!(
        stolen.elapsed() >= Duration::from_secs(15),
        "{:?}",
        stolen.elapsed()
    );
    let taken = lease(&app).await;
    assert_eq!(taken["spec"]["holderIdentity"], ours);
    assert_eq!(taken["spec"]["leaseTransitions"], 1);
}

/// One runner of the election on the test's log.
struct Runner {
    leadership: election::Leadership,
    stop: Shutdown,
    task: tokio::task::JoinHandle<()>,
}

fn runner(
    log: &crate::support::internals::EventLog,
    informer: &Informer,
    identity: &str,
    shutdown: &Shutdown,
) -> Runner {
    let (elected, leadership) = election::leadership(None);
    let stop = shutdown.child();
    let task = tokio::spawn(election::run_election_until_stopped(
        Arc::new(log.clone()),
        informer.clone(),
        election::Candidate::new(identity.to_string(), election::Timing::default()),
        elected,
        stop.clone(),
    ));
    Runner {
        leadership,
        stop,
        task,
    }
}

fn holder(informer: &Informer) -> (String, i64) {
    let snapshot = informer.read();
    let lease = snapshot
        .get(
            crate::support::internals::ResourceKind::Lease,
            election::LEASE_NAMESPACE,
            election::LEASE_NAME,
        )
        .cloned()
        .expect("the Lease");
    (
        lease["spec"]["holderIdentity"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        lease["spec"]["leaseTransitions"].as_i64().unwrap_or(-1),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_two_runners_leads_and_the_other_takes_over_when_it_dies_or_releases() {
    crate::support::init();
    crate::support::turn::shared();
    let dir = tempfile::tempdir().expect("temp dir");
    // Controllers off: the server runs no election of its own; the test runs two.
    let mut settings = Settings::new("127.0.0.1:0".parse().expect("addr"), dir.path().into());
    settings.workers.controllers = false;
    let app = Application::build(settings).await.expect("server builds");
    let (log, store) = (app.log().clone(), app.store().clone());
    let handle = app.server_handle();
    let server = tokio::spawn(app.run_until_stopped());
    let shutdown = Shutdown::new();
    let informer = Informer::start(&log, &store, shutdown.clone())
        .await
        .expect("informer");

    let a = runner(&log, &informer, "host_a", &shutdown);
    let b = runner(&log, &informer, "host_b", &shutdown);
    until("one runner leads", Duration::from_secs(10), || async {
        a.leadership.leads() || b.leadership.leads()
    })
    .await;
    // Never both, through several renewals.
    let watched = Instant::now();
    while watched.elapsed() < Duration::from_secs(12) {
        let (la, lb) = (a.leadership.leads(), b.leadership.leads());
        assert!(la != lb, "exactly one leads: a {la}, b {lb}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (leader, follower, leader_id, follower_id) = if a.leadership.leads() {
        (a, b, "host_a", "host_b")
    } else {
        (b, a, "host_b", "host_a")
    };
    assert_eq!(holder(&informer), (leader_id.to_string(), 0));

    // Killed: no release. The follower waits for the Lease to expire.
    leader.task.abort();
    let _ = leader.task.await;
    let killed = Instant::now();
    assert!(!leader.leadership.leads(), "a stopped runner leads no more");
    // Seen renewed at most a retry period after the last renewal, expired 15 s after that, and
    // looked at within another retry period: 19 s at worst.
    until(
        "the follower leads after the Lease expires",
        Duration::from_secs(21),
        || async { follower.leadership.leads() },
    )
    .await;
    let took = killed.elapsed();
    assert!(
        took > Duration::from_secs(8),
        "taken over after {took:?}, before the Lease could expire"
    );
    assert_eq!(holder(&informer), (follower_id.to_string(), 1));

    // Stopped: the Lease is released and a third runner takes it at once.
    let c = runner(&log, &informer, "host_c", &shutdown);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!c.leadership.leads(), "the holder's Lease is fresh");
    follower.stop.trigger();
    let _ = tokio::time::timeout(Duration::from_secs(5), follower.task)
        .await
        .expect("the runner stops");
    let released = Instant::now();
    assert!(!follower.leadership.leads());
    until(
        "the third runner leads once the Lease is released",
        Duration::from_secs(4),
        || async { c.leadership.leads() },
    )
    .await;
    assert!(released.elapsed() < Duration::from_secs(4));
    assert_eq!(holder(&informer), ("host_c".to_string(), 2));

    c.stop.trigger();
    let _ = c.task.await;
    shutdown.trigger();
    handle.stop(true).await;
    let _ = server.await;
}
