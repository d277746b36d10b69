//! `Shutdown`: one signal that stops the server, its watches and its workers; `child` makes a
//! signal of its own that also fires with its parent's (a controller's term of leadership).
use tokio::sync::watch;

/// Cloneable shutdown signal: `trigger` once, every clone's `wait` returns (and every clone's
/// of its children's).
#[derive(Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
    tx: std::sync::Arc<watch::Sender<bool>>,
    /// The signal this one also follows (`child`).
    parent: Option<Box<Shutdown>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn new() -> Self {
        let (tx, rx) = watch::channel(false);
        Shutdown {
            rx,
            tx: std::sync::Arc::new(tx),
            parent: None,
        }
    }

    /// A signal triggered on its own (`trigger` on it or a clone of it) or with this one;
    /// triggering the child leaves this one as it was.
    pub fn child(&self) -> Shutdown {
        Shutdown {
            parent: Some(Box::new(self.clone())),
            ..Shutdown::new()
        }
    }

    pub fn trigger(&self) {
        let _ = self.tx.send(true);
    }

    /// Whether this signal (or a parent's) has fired.
    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow() || self.parent.as_ref().is_some_and(|p| p.is_triggered())
    }

    pub async fn wait(&mut self) {
        match &mut self.parent {
            None => own(&mut self.rx).await,
            Some(parent) => {
                tokio::select! {
                    _ = own(&mut self.rx) => {}
                    _ = Box::pin(parent.wait()) => {}
                }
            }
        }
    }
}

/// Wait for one signal's own trigger.
async fn own(rx: &mut watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_child_fires_alone_or_with_its_parent() {
        let parent = Shutdown::new();
        let child = parent.child();
        child.trigger();
        let mut waiting = child.clone();
        tokio::time::timeout(Duration::from_secs(1), waiting.wait())
            .await
            .expect("the child's own trigger");
        assert!(!parent.is_triggered());

        let mut second = parent.child();
        let waiter = tokio::spawn(async move { second.wait().await });
        parent.trigger();
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("the parent's trigger reaches the child")
            .expect("waiter");
        assert!(parent.child().is_triggered());
    }
}
