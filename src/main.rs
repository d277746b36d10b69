//! The `kubetrail` command: `serve` runs the API server and its workers; `rebuild` replays the
//! log into fresh projections.

use clap::{Parser, Subcommand};
use kubetrail::config::Settings;
use kubetrail::startup::{Application, open_database};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "kubetrail",
    version,
    about = "A local, kubectl-compatible Kubernetes control plane on an SQLite event log"
)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Serve the Kubernetes API (HTTPS with a generated CA and token) and run the workers.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:6443", env = "KUBETRAIL_LISTEN")]
        listen: SocketAddr,
        /// Directory holding state.db, certificates, token and kubeconfig.
        #[arg(long, default_value = ".kubetrail", env = "KUBETRAIL_DATA_DIR")]
        data_dir: PathBuf,
        /// Serve plain HTTP without authentication (kubectl then sends no credentials).
        #[arg(long)]
        insecure_http: bool,
        /// Register this many simulated nodes (pods bound to them are marked Running without
        /// containers).
        #[arg(long, default_value_t = 0, env = "KUBETRAIL_SIMULATED_NODES")]
        simulated_nodes: usize,
    },
    /// Drop the projections and rebuild them from the event log.
    Rebuild {
        #[arg(long, default_value = ".kubetrail", env = "KUBETRAIL_DATA_DIR")]
        data_dir: PathBuf,
    },
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    kubetrail::telemetry::init("info");
    match Cli::parse().command {
        Commands::Serve {
            listen,
            data_dir,
            insecure_http,
            simulated_nodes,
        } => {
            let mut settings = Settings::new(listen, data_dir);
            settings.tls = !insecure_http;
            settings.workers.simulated_nodes = simulated_nodes;
            let app = Application::build(settings).await?;
            // A closed stdout (a parent that stopped reading) must not stop the server.
            let mut out = std::io::stdout();
            let _ = writeln!(
                out,
                "kubetrail is serving the Kubernetes API at {}",
                app.url()
            );
            let _ = writeln!(
                out,
                "export KUBECONFIG={}",
                absolute(app.kubeconfig_path()).display()
            );
            let _ = out.flush();
            app.run_until_stopped().await?;
        }
        Commands::Rebuild { data_dir } => {
            let (mut writer, _) = open_database(&data_dir.join("state.db")).await?;
            let started = std::time::Instant::now();
            let events = kubetrail::projections::rebuild::rebuild(&mut writer).await?;
            println!(
                "rebuilt the projections from {events} events in {:.3}s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

fn absolute(path: &std::path::Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}
