//! Health of the server's long-lived parts. The writer, the informer and every controller
//! report here whether they run; `/readyz` fails while any of them is down (naming it and why
//! with `?verbose`), and each panic they survive is counted in `/metrics`.

use crate::metrics::Metrics;
use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// What one part last reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentState {
    Up,
    /// Down, with a reason a person can act on.
    Down(String),
}

/// The parts of a server and their state; shared by everything that reports.
pub struct Health {
    components: Mutex<BTreeMap<String, ComponentState>>,
    metrics: Arc<Metrics>,
}

impl Health {
    pub fn new(metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Health {
            components: Mutex::new(BTreeMap::new()),
            metrics,
        })
    }

    fn set(&self, component: &str, state: ComponentState) {
        // A poisoned lock still holds a whole map: every update is one insert.
        let mut components = self.components.lock().unwrap_or_else(|p| p.into_inner());
        components.insert(component.to_string(), state);
    }

    pub fn up(&self, component: &str) {
        self.set(component, ComponentState::Up);
    }

    pub fn down(&self, component: &str, reason: impl Into<String>) {
        self.set(component, ComponentState::Down(reason.into()));
    }

    /// Record a panic `component` survived (or did not): logged and counted.
    pub fn panicked(&self, component: &str, message: &str) {
        tracing::error!(component, panic = message, "panic");
        self.metrics.count_panic(component);
    }

    /// Whether this server leads the controllers' election (`/metrics`): a follower's
    /// controllers wait, they are not down.
    pub fn leading(&self, leads: bool) {
        self.metrics.controllers_leading.set(i64::from(leads));
    }

    /// Every part with its state, by name.
    pub fn report(&self) -> Vec<(String, ComponentState)> {
        let components = self.components.lock().unwrap_or_else(|p| p.into_inner());
        components
            .iter()
            .map(|(name, state)| (name.clone(), state.clone()))
            .collect()
    }

    /// Whether every part that reported is up.
    pub fn all_up(&self) -> bool {
        self.report()
            .iter()
            .all(|(_, state)| *state == ComponentState::Up)
    }
}

/// The text of a panic's payload (`panic!` with a literal or a formatted message).
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_down_makes_the_whole_not_ready_until_it_is_up_again() {
        let health = Health::new(Arc::new(Metrics::new()));
        health.up("writer");
        health.up("replicaset-controller");
        assert!(health.all_up());
        health.down("replicaset-controller", "panicked: boom; restarting in 1s");
        assert!(!health.all_up());
        assert_eq!(
            health.report()[0],
            (
                "replicaset-controller".to_string(),
                ComponentState::Down("panicked: boom; restarting in 1s".to_string())
            )
        );
        health.up("replicaset-controller");
        assert!(health.all_up());
    }

    #[test]
    fn panic_messages_are_read_from_both_payload_kinds() {
        let literal = std::panic::catch_unwind(|| panic!("literal")).unwrap_err();
        assert_eq!(panic_message(literal.as_ref()), "literal");
        let formatted = std::panic::catch_unwind(|| panic!("n = {}", 3)).unwrap_err();
        assert_eq!(panic_message(formatted.as_ref()), "n = 3");
    }
}
