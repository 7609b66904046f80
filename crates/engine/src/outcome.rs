//! What happened to each activity of an append.

use actlog_model::{ActivityId, SkipReason};

/// The result of one item of [`Engine::append_batch`](crate::Engine::append_batch), in
/// the order of the input.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Recorded under this id.
    Added {
        /// The new activity's id.
        id: ActivityId,
    },
    /// Its idempotency key was already recorded (by an earlier call or earlier in the same
    /// batch); nothing new was recorded.
    Duplicate {
        /// The id the key was first recorded under.
        id: ActivityId,
    },
    /// Refused, with every reason found.
    Skipped {
        /// Why, one entry per problem.
        reasons: Vec<SkipReason>,
    },
}

impl Outcome {
    /// The id the item is (now or already) recorded under, if it is recorded.
    pub fn id(&self) -> Option<ActivityId> {
        match self {
            Outcome::Added { id } | Outcome::Duplicate { id } => Some(*id),
            Outcome::Skipped { .. } => None,
        }
    }
}
