//! Probes and lifecycle handlers (exec, HTTP GET, TCP socket, gRPC, sleep).

use super::field::{Errs, P, forbidden, invalid_i, invalid_s, not_supported, required};
use super::formats::{is_http_header_name, is_valid_port_name, is_valid_port_num, nonnegative};
use k8s_openapi::api::core::v1::{Container, HTTPGetAction, LifecycleHandler, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

// --- probes and handlers ---------------------------------------------------------------------

fn validate_port_num_or_name(port: &IntOrString, p: &P, errs: &mut Errs) {
    match port {
        IntOrString::Int(i) => {
            for m in is_valid_port_num(i64::from(*i)) {
                errs.push(invalid_i(p, i64::from(*i), &m));
            }
        }
        IntOrString::String(s) => {
            for m in is_valid_port_name(s) {
                errs.push(invalid_s(p, s, &m));
            }
        }
    }
}

fn validate_http_get(h: &HTTPGetAction, p: &P, errs: &mut Errs) {
    if h.path.as_deref().unwrap_or("").is_empty() {
        errs.push(required(&p.child("path"), ""));
    }
    validate_port_num_or_name(&h.port, &p.child("port"), errs);
    let scheme = h.scheme.as_deref().unwrap_or("");
    if scheme != "HTTP" && scheme != "HTTPS" {
        errs.push(not_supported(
            &p.child("scheme"),
            scheme,
            &["HTTP", "HTTPS"],
        ));
    }
    for header in h.http_headers.iter().flatten() {
        for m in is_http_header_name(&header.name) {
            errs.push(invalid_s(&p.child("httpHeaders"), &header.name, &m));
        }
    }
}

/// The handler kinds shared by probes and lifecycle hooks.
struct Handler<'a> {
    exec: Option<&'a k8s_openapi::api::core::v1::ExecAction>,
    http_get: Option<&'a HTTPGetAction>,
    tcp_socket: Option<&'a k8s_openapi::api::core::v1::TCPSocketAction>,
    grpc: Option<&'a k8s_openapi::api::core::v1::GRPCAction>,
    sleep: Option<&'a k8s_openapi::api::core::v1::SleepAction>,
}

fn validate_handler(h: &Handler<'_>, grace: Option<i64>, p: &P, errs: &mut Errs) {
    let mut n = 0;
    let more = |name: &str, errs: &mut Errs| {
        errs.push(forbidden(
            &p.child(name),
            "may not specify more than 1 handler type",
        ));
    };
    if let Some(e) = h.exec {
        n += 1;
        if e.command.as_ref().is_none_or(Vec::is_empty) {
            errs.push(required(&p.child("exec").child("command"), ""));
        }
    }
    if let Some(hg) = h.http_get {
        if n > 0 {
            more("httpGet", errs);
        } else {
            n += 1;
            validate_http_get(hg, &p.child("httpGet"), errs);
        }
    }
    if let Some(t) = h.tcp_socket {
        if n > 0 {
            more("tcpSocket", errs);
        } else {
            n += 1;
            validate_port_num_or_name(&t.port, &p.child("tcpSocket").child("port"), errs);
        }
    }
    if let Some(g) = h.grpc {
        if n > 0 {
            more("grpc", errs);
        } else {
            n += 1;
            validate_port_num_or_name(
                &IntOrString::Int(g.port),
                &p.child("grpc").child("port"),
                errs,
            );
        }
    }
    if let Some(s) = h.sleep {
        if n > 0 {
            more("sleep", errs);
        } else {
            n += 1;
            if let Some(g) = grace
                && (s.seconds < 0 || s.seconds > g)
            {
                errs.push(invalid_i(
                    &p.child("sleep"),
                    s.seconds,
                    &format!(
                        "must be non-negative and less than terminationGracePeriodSeconds ({g})"
                    ),
                ));
            }
        }
    }
    if n == 0 {
        errs.push(required(p, "must specify a handler type"));
    }
}

fn lifecycle_handler(h: &LifecycleHandler) -> Handler<'_> {
    Handler {
        exec: h.exec.as_ref(),
        http_get: h.http_get.as_ref(),
        tcp_socket: h.tcp_socket.as_ref(),
        grpc: None,
        sleep: h.sleep.as_ref(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ProbeKind {
    Liveness,
    Readiness,
    Startup,
}

fn validate_probe(
    probe: Option<&Probe>,
    kind: ProbeKind,
    grace: Option<i64>,
    p: &P,
    errs: &mut Errs,
) {
    let Some(pr) = probe else { return };
    let h = Handler {
        exec: pr.exec.as_ref(),
        http_get: pr.http_get.as_ref(),
        tcp_socket: pr.tcp_socket.as_ref(),
        grpc: pr.grpc.as_ref(),
        sleep: None,
    };
    validate_handler(&h, grace, p, errs);
    let fields = [
        ("initialDelaySeconds", pr.initial_delay_seconds),
        ("timeoutSeconds", pr.timeout_seconds),
        ("periodSeconds", pr.period_seconds),
        ("successThreshold", pr.success_threshold),
        ("failureThreshold", pr.failure_threshold),
    ];
    for (name, v) in fields {
        nonnegative(i64::from(v.unwrap_or(0)), &p.child(name), errs);
    }
    if let Some(t) = pr.termination_grace_period_seconds
        && t <= 0
    {
        errs.push(invalid_i(
            &p.child("terminationGracePeriodSeconds"),
            t,
            "must be greater than 0",
        ));
    }
    match kind {
        ProbeKind::Liveness | ProbeKind::Startup => {
            let st = pr.success_threshold.unwrap_or(0);
            if st != 1 {
                errs.push(invalid_i(
                    &p.child("successThreshold"),
                    i64::from(st),
                    "must be 1",
                ));
            }
        }
        ProbeKind::Readiness => {
            if let Some(t) = pr.termination_grace_period_seconds {
                errs.push(invalid_i(
                    &p.child("terminationGracePeriodSeconds"),
                    t,
                    "must not be set for readinessProbes",
                ));
            }
        }
    }
}

pub(super) fn validate_lifecycle_and_probes(
    c: &Container,
    grace: Option<i64>,
    p: &P,
    errs: &mut Errs,
) {
    if let Some(lc) = &c.lifecycle {
        let lp = p.child("lifecycle");
        if let Some(h) = &lc.post_start {
            validate_handler(&lifecycle_handler(h), grace, &lp.child("postStart"), errs);
        }
        if let Some(h) = &lc.pre_stop {
            validate_handler(&lifecycle_handler(h), grace, &lp.child("preStop"), errs);
        }
    }
    validate_probe(
        c.liveness_probe.as_ref(),
        ProbeKind::Liveness,
        grace,
        &p.child("livenessProbe"),
        errs,
    );
    validate_probe(
        c.readiness_probe.as_ref(),
        ProbeKind::Readiness,
        grace,
        &p.child("readinessProbe"),
        errs,
    );
    validate_probe(
        c.startup_probe.as_ref(),
        ProbeKind::Startup,
        grace,
        &p.child("startupProbe"),
        errs,
    );
}
