//! Turns on the machine. Every suite runs in this one test binary, on as many threads as there
//! are cores. A test that needs the machine to itself (a kill -9 under load, a full disk, the
//! long schemathesis run, counting this process's sockets) takes it `alone`; every fixture
//! takes a `shared` turn when it starts. A turn belongs to the test's thread (libtest runs
//! each test on a thread of its own) and ends when that thread does, pass or fail.
//!
//! An `alone` test waits until no shared turn is held; while it waits, no new one is given,
//! so it is not starved. Fixtures start on the test's own thread: a fixture started from a
//! spawned thread would wait for a turn of its own behind a waiting `alone` test.

use std::cell::RefCell;
use std::sync::{Condvar, Mutex, MutexGuard};

struct State {
    shared: usize,
    alone: bool,
    waiting_alone: usize,
}

static STATE: Mutex<State> = Mutex::new(State {
    shared: 0,
    alone: false,
    waiting_alone: 0,
});
static CHANGED: Condvar = Condvar::new();

fn state() -> MutexGuard<'static, State> {
    // A test that panicked while holding the lock leaves the counts right: go on.
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Shared,
    Alone,
}

/// A turn held by this thread; given back when the thread ends.
struct Held(Kind);

impl Drop for Held {
    fn drop(&mut self) {
        let mut state = state();
        match self.0 {
            Kind::Shared => state.shared -= 1,
            Kind::Alone => state.alone = false,
        }
        CHANGED.notify_all();
    }
}

thread_local! {
    static HELD: RefCell<Option<Held>> = const { RefCell::new(None) };
}

/// This test shares the machine with others (every fixture calls this). Nothing when the
/// test already holds a turn.
pub fn shared() {
    HELD.with(|held| {
        if held.borrow().is_some() {
            return;
        }
        let mut state = state();
        while state.alone || state.waiting_alone > 0 {
            state = CHANGED.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.shared += 1;
        drop(state);
        *held.borrow_mut() = Some(Held(Kind::Shared));
    });
}

/// This test runs with no other fixture on the machine: call it first thing in the test.
pub fn alone() {
    HELD.with(|held| {
        match held.borrow().as_ref().map(|h| h.0) {
            Some(Kind::Alone) => return,
            Some(Kind::Shared) => panic!(
                "support::turn::alone() must come before the test starts any fixture \
                 (it already shares the machine)"
            ),
            None => {}
        }
        let mut state = state();
        state.waiting_alone += 1;
        while state.alone || state.shared > 0 {
            state = CHANGED.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.waiting_alone -= 1;
        state.alone = true;
        drop(state);
        *held.borrow_mut() = Some(Held(Kind::Alone));
    });
}
