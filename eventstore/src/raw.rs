//! A batch of the log read for a rebuild: every event's text (stream id, type,
//! payload and metadata JSON) in one buffer that is reused from batch to batch,
//! so reading costs no allocation per event once the buffer has grown to a
//! batch's size. Readers borrow each event's parts from it.

use std::ops::Range;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::envelope::Position;

/// One event of a [`RawBatch`]: fixed-size fields, and where its texts lie in
/// the batch's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Spans {
    position: Position,
    event_id: Uuid,
    stream_version: u64,
    schema_version: u32,
    recorded_at: DateTime<Utc>,
    stream_id: Range<usize>,
    event_type: Range<usize>,
    payload: Range<usize>,
    metadata: Range<usize>,
}

/// Events read in global order, their texts in one reused buffer.
#[derive(Debug, Default)]
pub struct RawBatch {
    text: String,
    events: Vec<Spans>,
}

/// An event of a [`RawBatch`], borrowed from it (or from a store's row, to
/// [`RawBatch::push`] it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawEvent<'a> {
    /// Place in the global order.
    pub position: Position,
    /// Unique id given by the writer.
    pub event_id: Uuid,
    /// Its stream.
    pub stream_id: &'a str,
    /// Its version in the stream.
    pub stream_version: u64,
    /// Stable type name.
    pub event_type: &'a str,
    /// Shape version of the payload.
    pub schema_version: u32,
    /// The payload, as JSON text.
    pub payload: &'a str,
    /// The metadata, as JSON text.
    pub metadata: &'a str,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

impl RawBatch {
    /// Empties the batch, keeping its buffers for the next read.
    pub fn clear(&mut self) {
        self.text.clear();
        self.events.clear();
    }

    /// Adds an event (its texts are copied into the buffer).
    pub fn push(&mut self, parts: RawEvent<'_>) {
        let mut put = |s: &str| {
            let start = self.text.len();
            self.text.push_str(s);
            start..self.text.len()
        };
        let stream_id = put(parts.stream_id);
        let event_type = put(parts.event_type);
        let payload = put(parts.payload);
        let metadata = put(parts.metadata);
        self.events.push(Spans {
            position: parts.position,
            event_id: parts.event_id,
            stream_version: parts.stream_version,
            schema_version: parts.schema_version,
            recorded_at: parts.recorded_at,
            stream_id,
            event_type,
            payload,
            metadata,
        });
    }

    /// How many events it holds.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The position of its last event.
    pub fn last_position(&self) -> Option<Position> {
        self.events.last().map(|e| e.position)
    }

    /// Its events, in global order.
    pub fn iter(&self) -> impl Iterator<Item = RawEvent<'_>> {
        let text = self.text.as_str();
        self.events.iter().map(move |e| RawEvent {
            position: e.position,
            event_id: e.event_id,
            stream_id: &text[e.stream_id.clone()],
            stream_version: e.stream_version,
            event_type: &text[e.event_type.clone()],
            schema_version: e.schema_version,
            payload: &text[e.payload.clone()],
            metadata: &text[e.metadata.clone()],
            recorded_at: e.recorded_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_back_as_pushed_and_a_cleared_batch_keeps_its_buffer() {
        let mut batch = RawBatch::default();
        let at = Utc::now();
        for n in 1..=3u64 {
            let payload = format!("{{\"n\":{n}}}");
            batch.push(RawEvent {
                position: Position(n),
                event_id: Uuid::from_u128(u128::from(n)),
                stream_id: "org-x",
                stream_version: n,
                event_type: "T",
                schema_version: 1,
                payload: &payload,
                metadata: "{}",
                recorded_at: at,
            });
        }
        let seen: Vec<(u64, String)> = batch
            .iter()
            .map(|e| (e.position.0, e.payload.to_owned()))
            .collect();
        assert_eq!(seen[2], (3, "{\"n\":3}".to_owned()));
        assert_eq!(batch.last_position(), Some(Position(3)));
        let capacity = batch.text.capacity();
        batch.clear();
        assert!(batch.is_empty());
        assert_eq!(batch.text.capacity(), capacity);
    }
}
