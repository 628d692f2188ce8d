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

    /// Refills the batch from `lines`: one event per line, nine fields split by
    /// tabs — position, event id, stream id, stream version, type, schema
    /// version, `recorded_at` in microseconds since the epoch, the metadata JSON
    /// and the payload JSON (last, so it may hold anything but a line break,
    /// which JSON text never holds unescaped). A store that can send a whole
    /// batch as one text this way spends no allocation per event on reading it.
    /// Answers what is wrong with a line that does not parse.
    pub fn fill_from_lines(&mut self, lines: &str) -> Result<(), String> {
        self.clear();
        self.text.push_str(lines);
        let Self { text, events } = self;
        let mut start = 0;
        while start < text.len() {
            let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
            events.push(parse_line(text, start..end)?);
            start = end + 1;
        }
        Ok(())
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

/// One line of [`RawBatch::fill_from_lines`] (the span `line` of `text`).
fn parse_line(text: &str, line: Range<usize>) -> Result<Spans, String> {
    let mut fields: [Range<usize>; 9] = Default::default();
    let mut at = line.start;
    for field in fields.iter_mut().take(8) {
        let tab = text[at..line.end].find('\t').ok_or_else(|| {
            format!(
                "a line of the log has too few fields: {:?}",
                &text[line.clone()]
            )
        })?;
        *field = at..at + tab;
        at += tab + 1;
    }
    fields[8] = at..line.end;
    let field = |i: usize| &text[fields[i].clone()];
    let number = |i: usize| {
        field(i)
            .parse::<i64>()
            .map_err(|e| format!("field {i} of a line of the log ({:?}): {e}", field(i)))
    };
    let unsigned = |i: usize| number(i).and_then(|n| u64::try_from(n).map_err(|e| e.to_string()));
    let position = Position(unsigned(0)?);
    let event_id = Uuid::parse_str(field(1)).map_err(|e| format!("event id at {position}: {e}"))?;
    let recorded_at = DateTime::<Utc>::from_timestamp_micros(number(6)?)
        .ok_or_else(|| format!("recorded_at at {position} is out of range"))?;
    Ok(Spans {
        position,
        event_id,
        stream_version: unsigned(3)?,
        schema_version: u32::try_from(number(5)?)
            .map_err(|e| format!("schema version at {position}: {e}"))?,
        recorded_at,
        stream_id: fields[2].clone(),
        event_type: fields[4].clone(),
        metadata: fields[7].clone(),
        payload: fields[8].clone(),
    })
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

    #[test]
    fn lines_fill_a_batch_and_a_bad_line_is_named() {
        let mut batch = RawBatch::default();
        let id = Uuid::now_v7();
        let lines = format!(
            "7\t{id}\torg-a\t2\tUserInvited\t1\t1764668950123456\t{{}}\t{{\"note\":\"a\\tb\"}}\n\
             9\t{id}\torg-b\t1\tT\t3\t0\t{{\"source\":\"cli\"}}\t[]"
        );
        batch.fill_from_lines(&lines).expect("two lines");
        let events: Vec<RawEvent<'_>> = batch.iter().collect();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].position, Position(7));
        assert_eq!(events[0].event_id, id);
        assert_eq!(events[0].stream_id, "org-a");
        assert_eq!(events[0].stream_version, 2);
        assert_eq!(events[0].event_type, "UserInvited");
        assert_eq!(events[0].payload, "{\"note\":\"a\\tb\"}");
        assert_eq!(
            events[0].recorded_at,
            DateTime::<Utc>::from_timestamp_micros(1_764_668_950_123_456).expect("time")
        );
        assert_eq!(
            (
                events[1].schema_version,
                events[1].metadata,
                events[1].payload
            ),
            (3, "{\"source\":\"cli\"}", "[]")
        );
        batch.fill_from_lines("").expect("no lines");
        assert!(batch.is_empty());
        assert!(batch.fill_from_lines("1\tnot-a-uuid").is_err());
        assert!(batch
            .fill_from_lines(&format!("x\t{id}\ts\t1\tT\t1\t0\t{{}}\t{{}}"))
            .is_err());
    }
}
