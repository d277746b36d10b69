//! `kubetrail ui`: a link that logs a browser in to the timeline UI once. It reads the
//! kubeconfig the server wrote (server URL, CA, token), asks the server for a one-time login
//! code with the token, and prints the link; the token itself never reaches the browser.

use anyhow::{Context, bail};
use base64::Engine;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(clap::Args)]
pub struct UiArgs {
    /// The data directory of the running server (its kubeconfig is read from there).
    #[arg(long, default_value = ".kubetrail", env = "KUBETRAIL_DATA_DIR")]
    data_dir: PathBuf,
    /// Read the server, CA and token from this kubeconfig instead (its current context).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
}

/// Server URL, CA certificate (PEM) and bearer token of a kubeconfig's current context.
struct Target {
    server: String,
    ca_pem: Option<String>,
    token: Option<String>,
}

fn read_kubeconfig(path: &Path) -> anyhow::Result<Target> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "no kubeconfig at {}: the server writes it when it starts; start it with \
             `kubetrail serve` (or pass --data-dir / --kubeconfig)",
            path.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let config: Value = yaml_serde::from_str(&text)
        .with_context(|| format!("parsing the kubeconfig {}", path.display()))?;
    let current = config["current-context"].as_str().unwrap_or("");
    let named = |list: &str, name: &str| {
        config[list]
            .as_array()
            .and_then(|l| l.iter().find(|e| e["name"] == name))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let context = named("contexts", current);
    let cluster = named(
        "clusters",
        context["context"]["cluster"].as_str().unwrap_or(""),
    );
    let user = named("users", context["context"]["user"].as_str().unwrap_or(""));
    let server = cluster["cluster"]["server"]
        .as_str()
        .with_context(|| format!("the kubeconfig {} names no server", path.display()))?
        .trim_end_matches('/')
        .to_string();
    let ca_pem = cluster["cluster"]["certificate-authority-data"]
        .as_str()
        .map(|b64| base64::engine::general_purpose::STANDARD.decode(b64))
        .transpose()
        .context("decoding certificate-authority-data")?
        .map(String::from_utf8)
        .transpose()
        .context("certificate-authority-data is not PEM text")?;
    let token = user["user"]["token"].as_str().map(str::to_string);
    Ok(Target {
        server,
        ca_pem,
        token,
    })
}

/// Ask the server for a login code: the path of the link that uses it.
async fn login_path(target: &Target, token: &str) -> anyhow::Result<String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(10));
    if let Some(pem) = &target.ca_pem {
        builder = builder.tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes())?]);
    }
    let client = builder.build()?;
    let url = format!("{}/ui/login-codes", target.server);
    let response = client
        .post(&url)
        .bearer_auth(token)
        .json(&serde_json::json!({}))
        .send()
        .await
        .map_err(|e| {
            let hint = if e.is_connect() || e.is_timeout() {
                "is it running? Start it with `kubetrail serve`"
            } else {
                "is it a kubetrail server?"
            };
            anyhow::anyhow!("cannot reach the server at {}: {hint} ({e})", target.server)
        })?;
    let status = response.status();
    match status.as_u16() {
        201 | 200 => {}
        401 => bail!(
            "the server at {} refused the kubeconfig's token: the kubeconfig is from another \
             server; use the one `kubetrail serve` printed (--data-dir or --kubeconfig)",
            target.server
        ),
        404 => bail!(
            "the server at {} has no timeline UI (an older kubetrail?)",
            target.server
        ),
        _ => bail!("the server at {} answered {status}", target.server),
    }
    let body: Value = response.json().await.context("reading the login code")?;
    body["path"]
        .as_str()
        .map(str::to_string)
        .context("the server's answer has no login path")
}

/// Print the login link (or, for a server without authentication, the page's address).
pub async fn ui(args: UiArgs) -> anyhow::Result<()> {
    let path = args
        .kubeconfig
        .unwrap_or_else(|| args.data_dir.join("kubeconfig"));
    let target = read_kubeconfig(&path)?;
    let Some(token) = &target.token else {
        println!("The timeline UI (this server needs no login):");
        println!("  {}/ui/", target.server);
        return Ok(());
    };
    let link = format!("{}{}", target.server, login_path(&target, token).await?);
    println!(
        "Open this link in a browser on this machine within 60 seconds; it logs the browser in \
         to the timeline UI (once: run `kubetrail ui` again for another browser):"
    );
    println!("  {link}");
    if target.ca_pem.is_some() {
        println!(
            "The server's certificate comes from kubetrail's own CA ({}): the browser warns \
             about it unless it trusts that CA.",
            path.with_file_name("ca.crt").display()
        );
    }
    println!("Or, without a login: run `kubectl proxy` and open http://127.0.0.1:8001/ui/");
    Ok(())
}
