//! Micro-benchmark of the pure model, without I/O: `decide` of a pod create, the
//! unknown-fields check of a pod body (what http runs before submitting), admission of a pod
//! (`model::admit`: decode, default, validate, encode) and a server-side apply of a pod
//! manifest onto the live pod (`model::apply`). Each runs in a loop bounded by time and by
//! count, and prints iterations per second. `cargo bench --bench model` (add `-- --quick` for
//! a shorter run); without `--bench` (as `cargo test --all-targets` runs it) it measures
//! nothing.

use kubetrail::events::Command;
use kubetrail::events::decide::{DecideContext, decide};
use kubetrail::model::ResourceKind;
use kubetrail::model::admit::{Admission, admit, unknown_fields};
use kubetrail::model::apply::apply;
use serde_json::{Value, json};
use std::hint::black_box;
use std::time::{Duration, Instant};

const NOW: &str = "2026-01-01T00:00:00Z";

/// The pod every case starts from: what `kubectl run` sends, plus a probe and resources so
/// defaulting and validation have work to do.
fn pod_manifest() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "front"}},
        "spec": {"containers": [{
            "name": "app",
            "image": "ghcr.io/subicura/echo:v1",
            "ports": [{"containerPort": 3000, "name": "http"}],
            "env": [{"name": "MODE", "value": "bench"}],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                          "limits": {"cpu": "500m", "memory": "128Mi"}},
            "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 5},
        }]},
    })
}

fn namespace() -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace",
           "metadata": {"name": "default", "uid": "ns-uid"},
           "status": {"phase": "Active"}})
}

struct Measured {
    name: &'static str,
    iterations: u64,
    elapsed: Duration,
}

/// Run `f` until `budget` has passed or `max` iterations are done (checking the clock every
/// 64 iterations), after a short warm-up.
fn measure(name: &'static str, budget: Duration, max: u64, mut f: impl FnMut()) -> Measured {
    for _ in 0..100 {
        f();
    }
    let started = Instant::now();
    let mut iterations = 0;
    while iterations < max {
        for _ in 0..64 {
            f();
        }
        iterations += 64;
        if started.elapsed() >= budget {
            break;
        }
    }
    Measured {
        name,
        iterations,
        elapsed: started.elapsed(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("model benchmark: skipped outside `cargo bench`");
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let budget = Duration::from_millis(if quick { 300 } else { 2000 });
    let max = 5_000_000;
    let now: jiff::Timestamp = NOW.parse().expect("a timestamp");
    let ns = namespace();
    let ctx = DecideContext {
        now,
        new_uid: "pod-uid",
        namespace: Some(&ns),
        manager: "kubectl-create",
        services: None,
    };
    let create = Command::Create {
        kind: ResourceKind::Pod,
        namespace: "default".to_string(),
        object: pod_manifest(),
    };
    decide(None, &create, &ctx).expect("the create is decided");
    // The live pod the measured apply lands on: what a first `kubectl apply --server-side` of
    // the manifest stored (so the second one, changing a label, conflicts with no one).
    let first_apply = Command::Apply {
        kind: ResourceKind::Pod,
        namespace: "default".to_string(),
        name: "web".to_string(),
        config: pod_manifest(),
        force: false,
    };
    let apply_ctx = DecideContext {
        manager: "kubectl",
        services: None,
        ..ctx
    };
    let live = decide(None, &first_apply, &apply_ctx)
        .expect("the first apply is decided")
        .pop()
        .expect("one change")
        .object;
    let mut config = pod_manifest();
    config["metadata"]["labels"]["tier"] = json!("back");
    apply("Pod", "v1", Some(&live), &config, "kubectl", false, NOW).expect("the apply is valid");
    admit(ResourceKind::Pod, pod_manifest(), Admission::Create).expect("the pod is admitted");

    let manifest = pod_manifest();
    let results = [
        measure("decide: create a pod", budget, max, || {
            black_box(decide(None, black_box(&create), &ctx).ok());
        }),
        // What http checks before submitting: the body's fields the kind does not define.
        measure(
            "model::admit::unknown_fields: a pod body",
            budget,
            max,
            || {
                black_box(unknown_fields(ResourceKind::Pod, black_box(&manifest)));
            },
        ),
        // `admit` consumes its object: the clone is part of each iteration.
        measure("model::admit: a pod (create)", budget, max, || {
            black_box(
                admit(
                    ResourceKind::Pod,
                    black_box(&manifest).clone(),
                    Admission::Create,
                )
                .ok(),
            );
        }),
        measure(
            "model::apply: server-side apply of a pod manifest to the live pod",
            budget,
            max,
            || {
                black_box(
                    apply(
                        "Pod",
                        "v1",
                        Some(&live),
                        black_box(&config),
                        "kubectl",
                        false,
                        NOW,
                    )
                    .ok(),
                );
            },
        ),
    ];

    let mode = if quick {
        " (QUICK smoke run: short loops, not comparable)"
    } else {
        ""
    };
    println!("kubetrail model micro-benchmark{mode}");
    println!("  one thread, no I/O; each case for {budget:?} at most (or {max} iterations)");
    for r in &results {
        let per_second = r.iterations as f64 / r.elapsed.as_secs_f64();
        println!(
            "  {:<68} {:>10.0} /s   ({} in {:.2} s, {:.1} µs each)",
            r.name,
            per_second,
            r.iterations,
            r.elapsed.as_secs_f64(),
            1e6 / per_second
        );
    }
}
