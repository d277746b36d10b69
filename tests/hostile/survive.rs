//! The writer and the workers survive what a client can send.

use crate::helpers::spawn_app;
use crate::support::assert_still_healthy;

#[tokio::test]
async fn a_fresh_server_is_healthy() {
    let app = spawn_app().await;
    assert_still_healthy(&app).await;
}
