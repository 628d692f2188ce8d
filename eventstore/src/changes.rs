//! Wake-up hints for readers that follow the log.

use tokio::sync::watch;

/// A counter bumped after commits. Readers remember the last value they saw and wait
/// for a newer one; missed bumps coalesce, which is fine because a bump carries no data.
#[derive(Debug, Clone)]
pub struct ChangeSignal {
    rx: watch::Receiver<u64>,
}

impl ChangeSignal {
    /// Marks the current value as seen; call before reading so a commit that lands
    /// during the read still wakes the next wait.
    pub fn mark_seen(&mut self) {
        self.rx.borrow_and_update();
    }

    /// Waits until a bump newer than the last one seen. Returns false if the sender
    /// is gone (the store was dropped), so callers fall back to polling.
    pub async fn changed(&mut self) -> bool {
        self.rx.changed().await.is_ok()
    }
}

/// The sending half, owned by a store.
#[derive(Debug)]
pub(crate) struct ChangeNotifier {
    tx: watch::Sender<u64>,
}

impl ChangeNotifier {
    pub(crate) fn new() -> Self {
        Self {
            tx: watch::Sender::new(0),
        }
    }

    pub(crate) fn bump(&self) {
        self.tx.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(crate) fn signal(&self) -> ChangeSignal {
        ChangeSignal {
            rx: self.tx.subscribe(),
        }
    }
}
