//! `Settings`: what a server instance is told (listen address, data directory, database, TLS
//! and auth, watch limits). No I/O beyond what clap reads from arguments and the environment.

use crate::store::Database;
use crate::workers::WorkerSettings;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to serve on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Holds `state.db` (unless `database_url` names another database), the encryption keys,
    /// the CA and serving certificate, the token and the kubeconfig.
    pub data_dir: PathBuf,
    /// `--database`: the PostgreSQL database holding the log (`postgres://` or
    /// `postgresql://`); `None` keeps it in `state.db` in the data directory.
    pub database_url: Option<String>,
    /// Serve HTTPS with a bearer token (the default); plain HTTP without auth otherwise.
    pub tls: bool,
    /// Plain HTTP without auth on an address other machines can reach: refused unless this
    /// is set (`--insecure-http-allow-non-loopback-without-auth`).
    pub insecure_http_non_loopback: bool,
    /// More names (DNS names or IP addresses) clients reach the server by, for the serving
    /// certificate (`--tls-san`).
    pub tls_sans: Vec<String>,
    /// Regular expressions of the browser origins allowed to call the API
    /// (`--cors-allowed-origins`, as kube-apiserver's); other origins are refused.
    pub cors_allowed_origins: Vec<String>,
    /// Publish buffer per watcher before it is ended as too slow.
    pub watch_buffer: usize,
    /// Longest a watch may stay open when the client sets no `timeoutSeconds`.
    pub max_watch_timeout: Duration,
    /// How often an idle watch sends a bookmark or heartbeat.
    pub watch_heartbeat: Duration,
    /// The range Services' ClusterIPs come from (`--service-cluster-ip-range`, as
    /// kube-apiserver's); on a Docker node run as root, also the range the service network
    /// holds on this host.
    pub service_cidr: String,
    /// Which workers run and how.
    pub workers: WorkerSettings,
    /// Serve the data directory as it is (a replay of a past moment): no workers, no
    /// bootstrap writes, every write refused.
    pub read_only: bool,
    /// Take a snapshot of the projections at shutdown when this many events were appended
    /// since the newest one (0: never).
    pub snapshot_every: i64,
    /// Compact the log now and then, folding the default selection older than this (`None`:
    /// never; the log keeps everything).
    pub compact_older_than: Option<Duration>,
}

impl Settings {
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Self {
        Settings {
            listen,
            data_dir,
            database_url: None,
            tls: true,
            insecure_http_non_loopback: false,
            tls_sans: Vec::new(),
            cors_allowed_origins: Vec::new(),
            watch_buffer: 2048,
            max_watch_timeout: Duration::from_secs(1800),
            watch_heartbeat: Duration::from_secs(15),
            service_cidr: crate::model::service::DEFAULT_SERVICE_CIDR.to_string(),
            workers: WorkerSettings::default(),
            read_only: false,
            snapshot_every: 10_000,
            compact_older_than: None,
        }
    }

    /// Where the log lives: the `--database` URL's PostgreSQL database (its keys in the data
    /// directory), or `state.db` in the data directory.
    pub fn database(&self) -> Database {
        match &self.database_url {
            Some(url) => Database::Postgres {
                url: url.clone(),
                data_dir: self.data_dir.clone(),
            },
            None => Database::Sqlite(self.data_dir.join("state.db")),
        }
    }

    /// Why `--database` is refused, if it is: only a PostgreSQL URL names another database.
    pub fn database_problem(&self) -> Option<String> {
        self.database_url.as_deref().and_then(database_url_problem)
    }

    pub fn kubeconfig_path(&self) -> PathBuf {
        self.data_dir.join("kubeconfig")
    }

    /// Why this exposure is refused, if it is: an API without authentication may only be
    /// offered to this machine unless the operator says otherwise in so many words.
    pub fn exposure_problem(&self) -> Option<String> {
        (!self.tls && !self.listen.ip().is_loopback() && !self.insecure_http_non_loopback).then(
            || {
                format!(
                    "--insecure-http serves the API without authentication, and {} is not a \
                     loopback address: listen on 127.0.0.1, drop --insecure-http, or pass \
                     --insecure-http-allow-non-loopback-without-auth to let anyone who can reach \
                     it act as the cluster's admin",
                    self.listen.ip()
                )
            },
        )
    }

    /// The names the serving certificate must cover besides the defaults: the listen address
    /// (the loopback address of its family when it listens on every address), `tls_sans`,
    /// and the `kubernetes` Service's names and ClusterIP, the way pods reach the API.
    pub fn certificate_names(&self) -> Vec<String> {
        let mut names = vec![self.client_ip().to_string()];
        let service = crate::model::service::ServiceRanges::new(
            &self.service_cidr,
            crate::model::service::DEFAULT_NODE_PORTS,
        )
        .ok()
        .map(|r| r.first_ip().to_string());
        let in_cluster = [
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ];
        for name in self
            .tls_sans
            .iter()
            .cloned()
            .chain(in_cluster.iter().map(|n| n.to_string()))
            .chain(service)
        {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// The address the kubeconfig names. A wildcard listen address (0.0.0.0, [::]) cannot be
    /// connected to; the kubeconfig is written on this machine, where the loopback address of
    /// the same family always reaches the server and is in the certificate. A copy used
    /// elsewhere points `server` at one of the `--tls-san` names, which the certificate covers.
    pub fn client_ip(&self) -> IpAddr {
        match self.listen.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        }
    }
}

/// Why `url` is not a `--database` value, if it is not: a `postgres://` or `postgresql://`
/// URL. The message shows it without its password.
pub fn database_url_problem(url: &str) -> Option<String> {
    let given = Database::parse(url, std::path::Path::new(""));
    match given {
        Database::Postgres { .. } => None,
        // Displayed as a URL would be, so that a password in it is hidden.
        Database::Sqlite(_) => Some(format!(
            "--database {}: not a PostgreSQL URL; give postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE \
             (or postgresql://...), or leave --database out to keep the log in state.db in the \
             data directory",
            Database::Postgres {
                url: url.to_string(),
                data_dir: PathBuf::new(),
            }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(listen: &str) -> Settings {
        Settings::new(listen.parse().unwrap(), PathBuf::from("/nowhere"))
    }

    #[test]
    fn insecure_http_is_refused_off_loopback_unless_allowed_by_name() {
        let mut s = settings("127.0.0.1:6443");
        s.tls = false;
        assert_eq!(s.exposure_problem(), None);
        let mut s = settings("[::1]:6443");
        s.tls = false;
        assert_eq!(s.exposure_problem(), None);
        let mut s = settings("0.0.0.0:6443");
        assert_eq!(
            s.exposure_problem(),
            None,
            "TLS with a token is fine anywhere"
        );
        s.tls = false;
        let problem = s.exposure_problem().unwrap();
        assert!(
            problem.contains("0.0.0.0 is not a loopback address"),
            "{problem}"
        );
        s.insecure_http_non_loopback = true;
        assert_eq!(s.exposure_problem(), None);
    }

    #[test]
    fn the_certificate_names_the_listen_address_and_every_tls_san() {
        let mut s = settings("192.168.7.9:6443");
        s.tls_sans = vec![
            "k8s.example".into(),
            "10.0.0.1".into(),
            "k8s.example".into(),
        ];
        assert_eq!(
            s.certificate_names(),
            vec![
                "192.168.7.9",
                "k8s.example",
                "10.0.0.1",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
                "10.96.0.1",
            ]
        );
        assert_eq!(s.client_ip().to_string(), "192.168.7.9");
    }

    #[test]
    fn the_database_is_state_db_unless_a_postgres_url_names_one() {
        let mut s = settings("127.0.0.1:6443");
        assert_eq!(s.database(), Database::Sqlite("/nowhere/state.db".into()));
        assert_eq!(s.database_problem(), None);
        s.database_url = Some("postgres://kt:secret@db.example/kubetrail".into());
        assert_eq!(
            s.database(),
            Database::Postgres {
                url: "postgres://kt:secret@db.example/kubetrail".into(),
                data_dir: "/nowhere".into(),
            }
        );
        assert_eq!(s.database_problem(), None);
        s.database_url = Some("postgresql://db.example/kubetrail".into());
        assert_eq!(s.database_problem(), None);
        for refused in [
            "mysql://kt:secret@db.example/kubetrail",
            "/var/lib/state.db",
        ] {
            s.database_url = Some(refused.into());
            let problem = s.database_problem().expect(refused);
            assert!(problem.contains("not a PostgreSQL URL"), "{problem}");
            assert!(!problem.contains("secret"), "{problem}");
        }
    }

    #[test]
    fn a_wildcard_listen_address_is_reached_through_loopback() {
        assert_eq!(
            settings("0.0.0.0:6443").client_ip().to_string(),
            "127.0.0.1"
        );
        assert_eq!(settings("[::]:6443").client_ip().to_string(), "::1");
        assert_eq!(settings("[::]:6443").certificate_names()[0], "::1");
    }
}
