//! Who a request is: the ServiceAccount tokens this server issues and verifies (`token`).
//! The admin token stays with `app::tls`; the HTTP layer maps a bearer token to a user here
//! and checks a ServiceAccount token's objects against the store.

pub mod token;
