//! The auditor's and operator's commands over the log: `replay`, `history`, `verify`.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;

use roster_commands::tokens::TokenKey;
use roster_domain::OrgId;
use roster_eventstore::seal::{self, SealedHead};
use roster_eventstore::{integrity, EventStore};
use roster_projections::queries::{self, HistoryFilter};
use roster_projections::rebuild::rebuild_many;
use roster_storage::Db;

use crate::config::{HistoryArgs, HistoryFormat, ReplayArgs};
use crate::failure::CliError;

/// Shows progress on a terminal only; pipes and CI logs get the summary alone.
struct Progress {
    enabled: bool,
}

impl Progress {
    fn new() -> Self {
        Self {
            enabled: std::io::stderr().is_terminal(),
        }
    }

    fn show(&self, what: &str, done: u64, total: u64) {
        if !self.enabled {
            return;
        }
        let width = 30usize;
        let filled = (done.min(total) * width as u64)
            .checked_div(total)
            .map_or(width, |f| f as usize);
        eprint!(
            "\r{what:<12} [{}{}] {done}/{total}",
            "#".repeat(filled),
            " ".repeat(width - filled)
        );
        let _ = std::io::stderr().flush();
    }

    fn finish(&self) {
        if self.enabled {
            eprintln!();
        }
    }
}

async fn total_events(store: &dyn EventStore) -> u64 {
    // Positions are sparse, so the total is counted by paging through the whole
    // log once (10,000 events a read) before the replay starts.
    let mut n = 0u64;
    let mut after = roster_eventstore::Position::START;
    loop {
        match store.read_all(after, 10_000).await {
            Ok(batch) if !batch.is_empty() => {
                n += batch.len() as u64;
                after = batch[batch.len() - 1].global_position;
            }
            _ => return n,
        }
    }
}

/// `roster replay`: rebuilds (or verifies) each projection; returns false when
/// `--verify` found differences.
pub async fn replay(
    db: &Db,
    store: Arc<dyn EventStore>,
    args: &ReplayArgs,
) -> Result<bool, CliError> {
    let projections = match &args.projection {
        Some(name) => vec![roster_projections::by_name(name).ok_or_else(|| {
            let known: Vec<&str> = roster_projections::all().iter().map(|p| p.name()).collect();
            CliError::Argument {
                flag: "--projection",
                value: name.clone(),
                expected: format!("a projection: {}", known.join(", ")),
            }
        })?],
        None => roster_projections::all(),
    };
    let progress = Progress::new();
    let total = if progress.enabled {
        total_events(store.as_ref()).await
    } else {
        0
    };
    let mut clean = true;
    let refs: Vec<&dyn roster_projections::Projection> =
        projections.iter().map(|p| p.as_ref()).collect();
    let reports = rebuild_many(db, store.as_ref(), &refs, args.verify, |done, _| {
        progress.show("replay", done, total.max(done));
    })
    .await?;
    progress.finish();
    for (p, report) in projections.iter().zip(reports) {
        let rate = if report.seconds > 0.0 {
            report.events as f64 / report.seconds
        } else {
            0.0
        };
        let outcome = match (args.verify, report.differences.is_empty()) {
            (true, true) => "identical to the live tables".to_owned(),
            (true, false) => {
                clean = false;
                for d in &report.differences {
                    for row in &d.only_live {
                        println!("{}: {}: only in the live table: {row}", p.name(), d.table);
                    }
                    for row in &d.only_rebuilt {
                        println!(
                            "{}: {}: only in the rebuilt table: {row}",
                            p.name(),
                            d.table
                        );
                    }
                }
                format!("{} table(s) differ", report.differences.len())
            }
            (false, _) => "swapped in".to_owned(),
        };
        println!(
            "{}: {} events in {:.2}s ({:.0} events/s), position {}; {outcome}",
            p.name(),
            report.events,
            report.seconds,
            rate,
            report.position
        );
    }
    Ok(clean)
}

/// One CSV cell as written: a cell that a spreadsheet would read as a formula
/// (it starts with `=`, `+`, `-`, `@`, a tab or a carriage return; summaries
/// quote names people chose) gets a leading `'`, so it is shown as text and
/// never run. Quoting is the `csv` writer's.
fn csv_cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

/// Where history lines go, in the format asked for.
enum HistorySink<'a, W: Write> {
    Csv(Box<csv::Writer<&'a mut W>>),
    Jsonl(&'a mut W),
}

impl<'a, W: Write> HistorySink<'a, W> {
    /// A sink writing `format` to `out`; CSV starts with the `header` row.
    fn new(format: HistoryFormat, out: &'a mut W, header: &[&str]) -> Result<Self, CliError> {
        Ok(match format {
            HistoryFormat::Csv => {
                let mut csv = csv::WriterBuilder::new()
                    .terminator(csv::Terminator::Any(b'\n'))
                    .from_writer(out);
                csv.write_record(header)?;
                HistorySink::Csv(Box::new(csv))
            }
            HistoryFormat::Jsonl => HistorySink::Jsonl(out),
        })
    }

    /// Flushes what CSV buffered.
    fn finish(self) -> Result<(), CliError> {
        if let HistorySink::Csv(mut csv) = self {
            csv.flush()?;
        }
        Ok(())
    }
}

/// `roster history`: writes the organization's history to `out`, oldest first.
pub async fn history(
    db: &Db,
    store: Arc<dyn EventStore>,
    args: &HistoryArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    if let Some(request) = args.request {
        return request_chain(store.as_ref(), request, args.format, out).await;
    }
    let raw = args.org.as_deref().unwrap_or_default();
    let org: OrgId = raw
        .trim()
        .parse()
        .map_err(|_| CliError::not_an_org("--org", raw))?;
    let filter = HistoryFilter {
        since: args.since,
        until: args.until,
        event_type: args.event_type.clone(),
        actor: args.actor.clone(),
        subject: args.subject.clone(),
        newest_first: false,
    };
    // Bring the history up to the log's end first: the server may not be running.
    if let Some(p) = roster_projections::by_name("history") {
        roster_projections::runner::ensure_installed(db, p.as_ref()).await?;
        while roster_projections::runner::apply_batch(
            db,
            store.as_ref(),
            &[p.as_ref()],
            "",
            2_000,
            None,
        )
        .await?
            > 0
        {}
    }
    let mut sink = HistorySink::new(
        args.format,
        out,
        &[
            "position",
            "recorded_at",
            "event_type",
            "actor",
            "subject",
            "source",
            "event_id",
            "summary",
        ],
    )?;
    let mut after = 0i64;
    loop {
        let page = queries::history(db, org, &filter, after, 1_000).await?;
        let Some(last) = page.last() else { break };
        after = last.position;
        for row in &page {
            match &mut sink {
                HistorySink::Csv(csv) => csv.write_record([
                    csv_cell(&row.position.to_string()),
                    csv_cell(&row.recorded_at),
                    csv_cell(&row.event_type),
                    csv_cell(&row.actor_id),
                    csv_cell(&row.subject),
                    csv_cell(&row.source),
                    csv_cell(&row.event_id),
                    csv_cell(&row.summary),
                ])?,
                HistorySink::Jsonl(out) => {
                    serde_json::to_writer(&mut **out, row)?;
                    writeln!(out)?;
                }
            }
        }
    }
    sink.finish()?;
    Ok(())
}

/// One event of a request's chain, as `roster history --request` prints it.
#[derive(serde::Serialize)]
struct ChainLine<'a> {
    position: u64,
    recorded_at: String,
    stream_id: &'a str,
    event_type: &'a str,
    event_id: String,
    actor: Option<&'a str>,
    source: roster_eventstore::Source,
    causation_id: Option<String>,
    request_id: Option<&'a str>,
    payload: &'a serde_json::Value,
}

/// `roster history --request ID`: every event carrying the correlation id, in
/// log order, read through the log's index (no read model is involved).
async fn request_chain(
    store: &dyn EventStore,
    correlation: uuid::Uuid,
    format: HistoryFormat,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let mut sink = HistorySink::new(
        format,
        out,
        &[
            "position",
            "recorded_at",
            "stream_id",
            "event_type",
            "actor",
            "source",
            "event_id",
            "causation_id",
        ],
    )?;
    let mut after = roster_eventstore::Position::START;
    loop {
        let page = store.read_correlated(correlation, after, 1_000).await?;
        let Some(last) = page.last() else { break };
        after = last.global_position;
        for e in &page {
            let line = ChainLine {
                position: e.global_position.0,
                recorded_at: e
                    .recorded_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                stream_id: e.stream_id.as_str(),
                event_type: &e.event_type,
                event_id: e.event_id.to_string(),
                actor: e.metadata.actor.as_deref(),
                source: e.metadata.source,
                causation_id: e.metadata.causation_id.map(|c| c.to_string()),
                request_id: e.metadata.request_id.as_deref(),
                payload: &e.payload,
            };
            match &mut sink {
                HistorySink::Csv(csv) => csv.write_record([
                    line.position.to_string(),
                    line.recorded_at,
                    csv_cell(line.stream_id),
                    csv_cell(line.event_type),
                    csv_cell(line.actor.unwrap_or_default()),
                    serde_json::to_value(line.source)?
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    line.event_id,
                    line.causation_id.unwrap_or_default(),
                ])?,
                HistorySink::Jsonl(out) => {
                    serde_json::to_writer(&mut **out, &line)?;
                    writeln!(out)?;
                }
            }
        }
    }
    sink.finish()?;
    Ok(())
}

/// `roster seal`: checks the log, then writes every stream's head, authenticated
/// with the server secret, to `out` (owner-only).
pub async fn seal(store: Arc<dyn EventStore>, key: &TokenKey, out: &Path) -> Result<(), CliError> {
    let report = integrity::verify(store.as_ref(), |_| {}).await?;
    if !report.findings.is_empty() {
        return Err(CliError::UnverifiedLog(report.findings.len()));
    }
    let heads: Vec<SealedHead> = report
        .heads
        .into_iter()
        .map(|(stream_id, (version, hash))| SealedHead {
            stream_id,
            version,
            hash,
        })
        .collect();
    roster_workers::mailer::private::write(out, seal::seal(&heads, key.expose()).as_bytes())
        .map_err(|source| CliError::File {
            action: "write",
            path: out.to_path_buf(),
            source,
        })?;
    println!(
        "sealed {} streams ({} events) into {}",
        heads.len(),
        report.events,
        out.display()
    );
    Ok(())
}

/// `roster verify`: walks the hash chains, and checks the log against a seal
/// when given one; returns false when tampering was found.
pub async fn verify(
    store: Arc<dyn EventStore>,
    sealed: Option<(&Path, &TokenKey)>,
) -> Result<bool, CliError> {
    let mut clean = true;
    if let Some((file, key)) = sealed {
        let text = std::fs::read_to_string(file).map_err(|source| CliError::File {
            action: "read",
            path: file.to_path_buf(),
            source,
        })?;
        let heads = seal::open(&text, key.expose()).map_err(|source| CliError::Seal {
            path: file.to_path_buf(),
            source,
        })?;
        let mismatches = seal::check(store.as_ref(), &heads).await?;
        for m in &mismatches {
            match m {
                seal::SealMismatch::Rewritten { stream_id, version } => println!(
                    "stream {stream_id}: history up to version {version} was rewritten since it was sealed"
                ),
                seal::SealMismatch::Shortened { stream_id, sealed } => println!(
                    "stream {stream_id}: shorter than the {sealed} events sealed (events removed)"
                ),
            }
        }
        println!(
            "checked {} sealed streams: {}",
            heads.len(),
            if mismatches.is_empty() {
                "all as sealed".to_owned()
            } else {
                format!("{} differ", mismatches.len())
            }
        );
        clean = mismatches.is_empty();
    }
    let progress = Progress::new();
    let report = integrity::verify(store.as_ref(), |n| progress.show("verify", n, n)).await?;
    progress.finish();
    for f in &report.findings {
        let what = match &f.problem {
            integrity::Tampering::Edited => {
                "edited (its content or its predecessor no longer matches its hash)".to_owned()
            }
            integrity::Tampering::Gap { expected_version } => {
                format!("out of sequence: version {expected_version} was expected here (removed or reordered events)")
            }
            integrity::Tampering::Unhashed => "carries no hash".to_owned(),
        };
        println!(
            "event {} ({} v{}, position {}): {what}",
            f.event_id, f.stream_id, f.stream_version, f.position
        );
    }
    println!(
        "checked {} events in {} streams: {}",
        report.events,
        report.streams,
        if report.findings.is_empty() {
            "no tampering found".to_owned()
        } else {
            format!("{} problem(s)", report.findings.len())
        }
    );
    Ok(clean && report.findings.is_empty())
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    /// One cell as `roster history --format csv` writes it.
    fn csv_field(s: &str) -> String {
        let mut csv = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        csv.write_record([csv_cell(s)]).expect("write");
        let bytes = csv.into_inner().expect("flush");
        String::from_utf8(bytes)
            .expect("utf-8")
            .trim_end_matches('\n')
            .to_owned()
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn cells_a_spreadsheet_would_run_are_text() {
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("+1"), "'+1");
        assert_eq!(csv_field("-2+3"), "'-2+3");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(
            csv_field("Invited =x"),
            "Invited =x",
            "only a leading sign counts"
        );
    }
}
