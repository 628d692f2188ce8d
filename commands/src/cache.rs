//! Aggregate state kept between commands, keyed by id and tagged with the stream
//! version it reflects. One async lock per instance serializes this process's
//! commands on it (so they do not conflict with each other) while commands on
//! different instances run in parallel.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// One instance's cached state.
pub(crate) struct Slot<S> {
    /// `None` until the stream was read once.
    pub(crate) loaded: bool,
    /// The stream version `state` reflects.
    pub(crate) version: u64,
    /// The folded state (`None` before the aggregate's first event).
    pub(crate) state: Option<S>,
}

/// A bounded map of slots. When full, it drops idle slots; a dropped slot is
/// simply reloaded from the log on next use.
pub(crate) struct StateCache<K, S> {
    slots: Mutex<HashMap<K, Arc<AsyncMutex<Slot<S>>>>>,
    capacity: usize,
}

impl<K: Copy + Eq + Hash, S> StateCache<K, S> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// The slot for `key`, locked for the caller's exclusive use.
    pub(crate) async fn lock(&self, key: K) -> OwnedMutexGuard<Slot<S>> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            if !slots.contains_key(&key) && slots.len() >= self.capacity {
                // Evict idle slots (nobody holds them but the map).
                slots.retain(|_, slot| Arc::strong_count(slot) > 1);
            }
            slots
                .entry(key)
                .or_insert_with(|| {
                    Arc::new(AsyncMutex::new(Slot {
                        loaded: false,
                        version: 0,
                        state: None,
                    }))
                })
                .clone()
        };
        slot.lock_owned().await
    }

    /// How many instances are cached.
    pub(crate) fn len(&self) -> usize {
        self.slots.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Forgets `key`, e.g. after an append whose outcome is unknown.
    pub(crate) fn forget(&self, key: &K) {
        self.slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}
