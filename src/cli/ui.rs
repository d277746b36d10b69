//! `kubetrail ui`: a link that logs a browser in to the timeline UI once. It reads the
//! kubeconfig the server wrote (server URL, CA, token), asks the server for a one-time login
//! code with the token, and prints the link; the token itself never reaches the browser.

use crate::workers::remote::{Connection, KubeconfigTarget, read_kubeconfig};
use anyhow::{Context, bail};
use serde_json::Value;
use std::path::PathBuf;
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

/// Ask the server for a login code: the path of the link that uses it.
async fn login_path(target: &KubeconfigTarget) -> anyhow::Result<String> {
    let connection = Connection::new(
        &target.server,
        target.token.clone(),
        target.ca_pem.as_deref(),
    )?;
    let response = connection
        .request(reqwest::Method::POST, "/ui/login-codes")
        .timeout(Duration::from_secs(10))
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
    if target.token.is_none() {
        println!("The timeline UI (this server needs no login):");
        println!("  {}/ui/", target.server);
        return Ok(());
    }
    let link = format!("{}{}", target.server, login_path(&target).await?);
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
