//! Polling until a condition holds, with a deadline: instead of sleeping for a guessed time.

use std::time::{Duration, Instant};

/// Poll `check` every 50 ms until it returns true (then true) or `timeout` passes (false).
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Poll `check` until it returns true; fail saying "timed out: {what}" after `timeout`.
pub async fn until<F, Fut>(what: &str, timeout: Duration, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    assert!(eventually(timeout, check).await, "timed out: {what}");
}

/// Blocking: poll `check` every 200 ms until it returns `Some`; fail saying
/// "timed out waiting for {what}" after `timeout`.
pub fn blocking<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
