//! The projections are a pure function of the log: rebuilding them gives identical rows, and a
//! restarted server serves the same state.

use crate::support::app::*;
use crate::support::internals::store;
use serde_json::json;
use sqlx::{Connection, Row};

/// A connection of the test's own to the database, to inspect or alter it from outside.
async fn raw(path: &std::path::Path) -> sqlx::SqliteConnection {
    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("open")
}

async fn dump(
    path: &std::path::Path,
) -> Vec<(String, String, String, String, i64, Option<String>, String)> {
    let mut conn = raw(path).await;
    sqlx::query("SELECT kind, namespace, name, uid, seq, node_name, object FROM objects ORDER BY kind, namespace, name")
        .fetch_all(&mut conn)
        .await
        .expect("dump")
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6)))
        .collect()
}

#[tokio::test]
async fn rebuild_reproduces_the_projections_byte_for_byte() {
    let app = spawn_app().await;
    for i in 0..20 {
        app.create_pod("default", &pod(&format!("p{i}"))).await;
    }
    app.post(
        "/apis/apps/v1/namespaces/default/replicasets",
        &replicaset("web", 2),
    )
    .await;
    app.patch(
        "/apis/apps/v1/namespaces/default/replicasets/web/scale",
        "application/merge-patch+json",
        &json!({"spec": {"replicas": 4}}),
    )
    .await;
    for i in 0..5 {
        app.delete(&format!("/api/v1/namespaces/default/pods/p{i}"), None)
            .await;
    }
    app.patch(
        "/api/v1/namespaces/default/pods/p9/status",
        "application/merge-patch+json",
        &json!({"status": {"phase": "Running"}}),
    )
    .await;
    let bound = app
        .post(
            "/api/v1/namespaces/default/pods/p10/binding",
            &json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p10"},
                    "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"}}),
        )
        .await;
    assert_eq!(bound.status, 201, "{}", bound.text);
    let dir = app.stop().await;
    let db = dir.path().join("state.db");
    let before = dump(&db).await;
    assert_eq!(before.iter().filter(|r| r.0 == "Pod").count(), 15);
    assert!(before.iter().any(|r| r.5.as_deref() == Some("n1")));

    let (mut conn, _) = store::open(&db).await.unwrap();
    let replayed = conn.rebuild().await.unwrap();
    assert!(replayed > 25);
    drop(conn);
    assert_eq!(dump(&db).await, before);
}

#[tokio::test]
async fn a_restarted_server_serves_the_same_state_and_continues_the_sequence() {
    let app = spawn_app().await;
    app.create_pod("default", &pod("kept")).await;
    let before = app.get("/api/v1/namespaces/default/pods/kept").await.body;
    let last = app.latest_rv().await;
    let dir = app.stop().await;
    let app = start_in(dir, |_| {}).await;
    assert_eq!(
        app.get("/api/v1/namespaces/default/pods/kept").await.body,
        before
    );
    let next = app.create_pod("default", &pod("after")).await.body;
    let rv: i64 = next["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(rv, last + 1);
}

#[tokio::test]
async fn the_log_refuses_updates_and_deletes() {
    let app = spawn_app().await;
    app.create_pod("default", &pod("p")).await;
    let dir = app.stop().await;
    let mut conn = raw(&dir.path().join("state.db")).await;
    assert!(
        sqlx::query("UPDATE events SET actor = 'x'")
            .execute(&mut conn)
            .await
            .is_err()
    );
    assert!(
        sqlx::query("DELETE FROM events")
            .execute(&mut conn)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_rebuild_from_a_snapshot_gives_the_rows_of_a_rebuild_from_genesis() {
    let app = spawn_app().await;
    for i in 0..10 {
        app.create_pod("default", &pod(&format!("p{i}"))).await;
    }
    let dir = app.stop().await;
    let db = dir.path().join("state.db");
    let (mut conn, _) = store::open(&db).await.unwrap();
    let (at, rows) = conn.take_snapshot().await.unwrap().expect("a snapshot");
    assert!(rows >= 14, "4 namespaces and 10 pods: {rows}");
    drop(conn);
    // After the snapshot: deletes, updates and a re-creation under the same name.
    let app = start_in(dir, |_| {}).await;
    for i in 0..4 {
        app.delete(&format!("/api/v1/namespaces/default/pods/p{i}"), None)
            .await;
    }
    app.patch(
        "/api/v1/namespaces/default/pods/p7",
        "application/merge-patch+json",
        &json!({"metadata": {"labels": {"tier": "web"}}}),
    )
    .await;
    app.create_pod("default", &pod("p1")).await;
    let dir = app.stop().await;
    let from_snapshot = {
        let (mut conn, _) = store::open(&db).await.unwrap();
        let newest = conn.newest_snapshot_at_or_before(i64::MAX).await.unwrap();
        assert_eq!(newest, at);
        conn.rebuild().await.unwrap();
        drop(conn);
        dump(&db).await
    };
    let mut outside = raw(&db).await;
    sqlx::query("DELETE FROM snapshots")
        .execute(&mut outside)
        .await
        .unwrap();
    drop(outside);
    let (mut conn, _) = store::open(&db).await.unwrap();
    conn.rebuild().await.unwrap();
    drop(conn);
    assert_eq!(dump(&db).await, from_snapshot);
    assert_eq!(
        from_snapshot
            .iter()
            .filter(|r| r.0 == "Pod")
            .map(|r| r.2.as_str())
            .collect::<Vec<_>>(),
        ["p1", "p4", "p5", "p6", "p7", "p8", "p9"]
    );
    drop(dir);
}
