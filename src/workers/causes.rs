//! Naming a decision's causes: a controller lists the inputs its decision read, each with the
//! seq of the event that last changed it (from the snapshot's `Marks` and `Gone`), and the
//! newest of them is the primary cause, the one that made this decision differ from the one
//! before it. The others are recorded beside it. Pure.

use super::Cause;
use crate::api::MAX_CAUSES;

/// One input of a decision: the event that last changed it, and what it is, in words
/// (`pod default/echo-rs-5jh4c deleted`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub seq: i64,
    pub what: String,
}

impl Input {
    pub fn new(seq: i64, what: impl Into<String>) -> Input {
        Input {
            seq,
            what: what.into(),
        }
    }
}

/// The causes of a decision read from `inputs`: the newest first, its reason the input and
/// `outcome` (`0 of 1 pods`), then the others, newest first, one per seq (the first listed of
/// those with the same seq: list the telling ones first), at most `api::MAX_CAUSES` in all.
/// Inputs without a seq (0: not known) are left out.
pub fn newest_first(mut inputs: Vec<Input>, outcome: &str) -> Vec<Cause> {
    inputs.retain(|i| i.seq > 0);
    inputs.sort_by_key(|i| std::cmp::Reverse(i.seq));
    inputs.dedup_by_key(|i| i.seq);
    inputs
        .into_iter()
        .take(MAX_CAUSES)
        .enumerate()
        .map(|(index, input)| {
            if index == 0 && !outcome.is_empty() {
                Cause::new(input.seq, format!("{}: {outcome}", input.what))
            } else {
                Cause::new(input.seq, input.what)
            }
        })
        .collect()
}

/// `1 pod`, `3 pods`: a count in a cause's words.
pub fn plural<N>(n: N, word: &str) -> String
where
    N: std::fmt::Display + PartialEq + From<u8>,
{
    if n == N::from(1) {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The one cause of a decision with a single input.
pub fn only(seq: i64, reason: impl Into<String>) -> Vec<Cause> {
    if seq > 0 {
        vec![Cause::new(seq, reason)]
    } else {
        vec![]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_input_is_the_primary_cause_with_the_outcome() {
        let causes = newest_first(
            vec![
                Input::new(66, "ReplicaSet default/echo-rs wants 1 pod"),
                Input::new(80, "pod default/echo-rs-5jh4c deleted"),
                Input::new(0, "unknown"),
                Input::new(80, "pod default/echo-rs-5jh4c deleted"),
            ],
            "0 of 1 pods",
        );
        assert_eq!(
            causes,
            [
                Cause::new(80, "pod default/echo-rs-5jh4c deleted: 0 of 1 pods"),
                Cause::new(66, "ReplicaSet default/echo-rs wants 1 pod"),
            ]
        );
    }

    #[test]
    fn causes_are_bounded() {
        let inputs = (1..100)
            .map(|i| Input::new(i, format!("input {i}")))
            .collect();
        let causes = newest_first(inputs, "");
        assert_eq!(causes.len(), MAX_CAUSES);
        assert_eq!(causes[0], Cause::new(99, "input 99"));
        assert!(only(0, "nothing").is_empty());
    }
}
