//! Group commit, the part both backends share: appends wait in a queue, the next
//! round takes up to [`ROUND_MOST`] of them into one transaction, and counters
//! say how well they grouped. Each backend runs its rounds its own way.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use tokio::sync::oneshot;

use crate::envelope::{Appended, ExpectedVersion, NewEvent, StreamId};
use crate::error::StoreError;

/// The most appends one round carries.
const ROUND_MOST: usize = 64;

/// One append waiting for a round.
pub(crate) struct Waiting {
    pub stream: StreamId,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
    /// Each event's metadata, in the events' order.
    pub metadata: Vec<serde_json::Value>,
    pub answer: oneshot::Sender<Result<Appended, StoreError>>,
}

/// Appends waiting for the next round, and what the rounds carried.
#[derive(Default)]
pub(crate) struct Queue {
    waiting: Mutex<Vec<Waiting>>,
    rounds: AtomicU64,
    carried: AtomicU64,
}

impl Queue {
    /// Queues an append; its outcome arrives on the answer.
    pub fn push(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        metadata: Vec<serde_json::Value>,
    ) -> Answer {
        let (answer, answered) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Waiting {
                stream: stream.clone(),
                expected,
                events,
                metadata,
                answer,
            });
        Answer(answered)
    }

    /// The next round: up to [`ROUND_MOST`] appends, oldest first (none when
    /// another round took them already).
    pub fn take_round(&self) -> Vec<Waiting> {
        let round: Vec<Waiting> = {
            let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
            let n = waiting.len().min(ROUND_MOST);
            waiting.drain(..n).collect()
        };
        if !round.is_empty() {
            self.rounds.fetch_add(1, Ordering::Relaxed);
            self.carried
                .fetch_add(round.len() as u64, Ordering::Relaxed);
        }
        round
    }

    /// Rounds run so far and the appends they carried.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.rounds.load(Ordering::Relaxed),
            self.carried.load(Ordering::Relaxed),
        )
    }
}

/// Where a queued append's outcome arrives.
pub(crate) struct Answer(oneshot::Receiver<Result<Appended, StoreError>>);

impl Answer {
    /// The outcome; [`StoreError::Unanswered`] if its round ended without one.
    pub async fn outcome(self) -> Result<Appended, StoreError> {
        self.0.await.unwrap_or(Err(StoreError::Unanswered))
    }
}
