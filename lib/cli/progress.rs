//! How a pull shows itself: when stderr is a terminal (not `TERM=dumb`) and
//! no JSON was asked for, a status table redrawn in place there (one line
//! per object: kind-digest, state, bar, bytes; rows that are done folded
//! into a count when the terminal is short; then elapsed time, what this
//! run downloaded and its rate, and at the end the name, digest and chain
//! ID); on stdout, unless it is that terminal too, one line per event
//! (`KEY: STATE DETAIL`), or one JSON object per event for programs. No
//! colours are drawn, so `NO_COLOR` is honoured as it stands.

use std::io::{self, IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use super::table::human_size;
use crate::graph::ObjectKind;
use crate::remote::Put;
use crate::transfer::{Event, Pulled, Pushed};

/// Which form the event lines on stdout take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// None: the status table on stderr says it all.
    Quiet,
    /// One line per event.
    Plain,
    /// One JSON object per event.
    Json,
}

struct Row {
    /// The object's kind (`layer`, …), or `None` for the name's row.
    kind: Option<ObjectKind>,
    /// The object's digest, or the name.
    digest: String,
    state: &'static str,
    offset: u64,
    /// Where this run's download of it started (bytes kept from before).
    from: u64,
    total: u64,
}

struct Screen {
    rows: Vec<Row>,
    drawn: usize,
    /// Bytes this run downloaded of the objects done.
    downloaded: u64,
    /// Bytes earlier runs had kept, of the objects resumed.
    kept: u64,
    /// When the last object arrived, in seconds since the start: the rate
    /// is over the download, not the unpacking after it.
    fetched_at: Option<f64>,
}

/// The display of one pull, fed by its events from any thread: the status
/// table on stderr when it is a terminal, and event lines on stdout (none
/// when stdout is that terminal too).
pub struct Display {
    mode: Mode,
    /// Event lines go to stderr (a push's stdout is its digest).
    to_stderr: bool,
    table: bool,
    start: Instant,
    screen: Mutex<Screen>,
    stop: AtomicBool,
}

fn short(digest: &str, wide: bool) -> String {
    if wide {
        digest.to_string()
    } else {
        digest.chars().take("sha256:".len() + 12).collect()
    }
}

impl Display {
    /// The display for this process's stdout and stderr, JSON events if
    /// `json`; its clock started.
    pub fn new(json: bool) -> Display {
        Display::with(json, false)
    }

    /// The display of a push: event lines on stderr, unless `json`.
    pub fn for_push(json: bool) -> Display {
        Display::with(json, true)
    }

    fn with(json: bool, to_stderr: bool) -> Display {
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        let table = io::stderr().is_terminal() && !dumb && !json;
        let lines_to_tty = match to_stderr {
            true => table,
            false => table && io::stdout().is_terminal(),
        };
        let mode = if json {
            Mode::Json
        } else if lines_to_tty {
            Mode::Quiet
        } else {
            Mode::Plain
        };
        Display {
            mode,
            to_stderr: to_stderr && !json,
            table,
            start: Instant::now(),
            screen: Mutex::new(Screen {
                rows: Vec::new(),
                drawn: 0,
                downloaded: 0,
                kept: 0,
                fetched_at: None,
            }),
            stop: AtomicBool::new(false),
        }
    }

    fn screen(&self) -> std::sync::MutexGuard<'_, Screen> {
        self.screen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `work`, redrawing the status table every 100 ms meanwhile.
    pub fn run<T>(&self, work: impl FnOnce() -> T) -> T {
        if !self.table {
            return work();
        }
        std::thread::scope(|s| {
            s.spawn(|| {
                while !self.stop.load(Ordering::Relaxed) {
                    std::thread::park_timeout(Duration::from_millis(100));
                    self.draw();
                }
            });
            let out = work();
            self.stop.store(true, Ordering::Relaxed);
            out
        })
    }

    /// Takes one event.
    pub fn event(&self, e: &Event) {
        if self.table {
            self.update(e);
        }
        match self.mode {
            Mode::Quiet => {}
            Mode::Plain => {
                if let Some(line) = plain(e) {
                    self.line(&line);
                }
            }
            Mode::Json => {
                if let Some(v) = to_json(e) {
                    self.line(&v.to_string());
                }
            }
        }
    }

    fn update(&self, e: &Event) {
        let now = self.start.elapsed().as_secs_f64();
        let mut sc = self.screen();
        match e {
            Event::Resolved { name, target } => {
                sc.set(None, name, target.size, "resolved").offset = target.size;
            }
            Event::Fetching { kind, desc, offset } | Event::Uploading { kind, desc, offset } => {
                let state = match (e, *offset > 0) {
                    (Event::Uploading { .. }, _) => "uploading",
                    (_, true) => "resuming",
                    (_, false) => "downloading",
                };
                let r = sc.set(Some(*kind), &desc.digest.to_string(), desc.size, state);
                (r.offset, r.from) = (*offset, *offset);
            }
            Event::Progress { desc, offset } => {
                sc.with(&desc.digest.to_string(), |r| r.offset = *offset)
            }
            Event::Fetched {
                kind,
                desc,
                existed,
                resumed_from,
                ..
            } => {
                let state = if *existed { "exists" } else { "done" };
                sc.set(Some(*kind), &desc.digest.to_string(), desc.size, state)
                    .offset = desc.size;
                if !existed {
                    let kept = (*resumed_from).min(desc.size);
                    (sc.downloaded, sc.kept) = (sc.downloaded + desc.size - kept, sc.kept + kept);
                }
                sc.fetched_at = Some(now);
            }
            Event::Pushed { kind, desc, how } => {
                let state = match how {
                    Put::Existed => "exists",
                    Put::Mounted(_) => "mounted",
                    Put::Uploaded(n) => {
                        sc.downloaded += n;
                        "pushed"
                    }
                };
                sc.set(Some(*kind), &desc.digest.to_string(), desc.size, state)
                    .offset = desc.size;
                sc.fetched_at = Some(now);
            }
            Event::Unpacking(layer) => {
                sc.with(&layer.digest.to_string(), |r| r.state = "unpacking")
            }
            Event::Unpacked(u) => sc.with(&u.layer.digest.to_string(), |r| {
                r.state = if u.existed {
                    "unpacked (had)"
                } else {
                    "unpacked"
                }
            }),
            Event::Named { .. } | Event::Verified { .. } => {}
        }
    }

    fn draw(&self) {
        let size = rustix::termios::tcgetwinsize(io::stderr()).ok();
        let width = size.map_or(80, |w| w.ws_col as usize).max(40);
        // A terminal that does not say its height (0) gets every row.
        let height = match size.map_or(0, |w| w.ws_row as usize) {
            0 => usize::MAX / 2,
            h => h.max(4),
        };
        let wide = width >= 150;
        let mut sc = self.screen();
        let mut text = String::new();
        if sc.drawn > 0 {
            text.push_str(&format!("\x1b[{}A", sc.drawn));
        }
        let mut lines: Vec<String> = shown(&sc.rows, height - 2)
            .into_iter()
            .map(|r| match r {
                Shown::Row(r) => row_line(r, wide),
                Shown::Folded(n) => format!("... {n} more done"),
            })
            .collect();
        let kw = lines
            .iter()
            .filter_map(|l| l.find(": ").filter(|_| !l.starts_with("...")))
            .max()
            .unwrap_or(0);
        for line in &mut lines {
            if let Some(i) = line.find(": ").filter(|_| !line.starts_with("...")) {
                line.insert_str(i, &" ".repeat(kw - i));
            }
        }
        let elapsed = self.start.elapsed().as_secs_f64();
        let live: u64 = sc
            .rows
            .iter()
            .filter(|r| r.live())
            .map(|r| r.offset - r.from.min(r.offset))
            .sum();
        let busy = sc.rows.iter().any(|r| r.live() || r.state == "waiting");
        let over = match (busy, sc.fetched_at) {
            (false, Some(at)) => at,
            _ => elapsed,
        };
        lines.push(totals(elapsed, over, sc.downloaded + live, sc.kept));
        for line in &lines {
            let cut: String = line.chars().take(width - 1).collect();
            text.push_str("\x1b[2K");
            text.push_str(&cut);
            text.push('\n');
        }
        sc.drawn = lines.len();
        let mut out = io::stderr().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// Ends the display of a pull: the last table, or the closing line or
    /// object.
    pub fn finish(&self, pulled: &Pulled) {
        self.end(
            &pulled.name,
            &pulled.target.digest.to_string(),
            pulled.downloaded,
            pulled.chain_id.as_ref().map(|c| c.to_string()),
            json!({"downloaded": pulled.downloaded, "referrers": pulled.referrers.len()}),
        );
    }

    /// Ends the display of a push.
    pub fn finish_push(&self, pushed: &Pushed) {
        self.end(
            &pushed.name,
            &pushed.target.digest.to_string(),
            pushed.uploaded,
            None,
            json!({"uploaded": pushed.uploaded, "mounted": pushed.mounted, "existed": pushed.existed, "referrers": pushed.referrers}),
        );
    }

    fn end(
        &self,
        name: &str,
        digest: &str,
        bytes: u64,
        chain: Option<String>,
        extra: serde_json::Value,
    ) {
        let elapsed = self.start.elapsed().as_secs_f64();
        let over = self.screen().fetched_at.unwrap_or(elapsed);
        let kept = self.screen().kept;
        let chain_text = chain
            .as_ref()
            .map(|c| format!(" chain {c}"))
            .unwrap_or_default();
        if self.table {
            self.stop.store(true, Ordering::Relaxed);
            self.draw();
            let mut out = io::stderr().lock();
            let _ = writeln!(out, "{name} {digest}{chain_text}");
        }
        match self.mode {
            Mode::Quiet => {}
            Mode::Plain => self.line(&totals(elapsed, over, bytes, kept)),
            Mode::Json => {
                let mut done = json!({
                    "event": "done",
                    "name": name,
                    "digest": digest,
                    "elapsed": (elapsed * 1000.0).round() / 1000.0,
                    "chainID": chain,
                });
                if let (Some(done), Some(extra)) = (done.as_object_mut(), extra.as_object()) {
                    done.extend(extra.clone());
                }
                self.line(&done.to_string());
            }
        }
    }

    /// One event line, where this display puts them.
    fn line(&self, line: &str) {
        match self.to_stderr {
            true => {
                let mut out = io::stderr().lock();
                let _ = writeln!(out, "{line}");
            }
            false => println_out(line),
        }
    }
}

impl Screen {
    /// The row of `key` (made, waiting, if new) in `state`.
    fn set(
        &mut self,
        kind: Option<ObjectKind>,
        key: &str,
        total: u64,
        state: &'static str,
    ) -> &mut Row {
        let i = match self.rows.iter().position(|r| r.digest == key) {
            Some(i) => i,
            None => {
                self.rows.push(Row {
                    kind,
                    digest: key.to_string(),
                    state,
                    offset: 0,
                    from: 0,
                    total,
                });
                self.rows.len() - 1
            }
        };
        self.rows[i].state = state;
        &mut self.rows[i]
    }

    /// Changes the row of `key`, if there is one.
    fn with(&mut self, key: &str, change: impl FnOnce(&mut Row)) {
        if let Some(r) = self.rows.iter_mut().find(|r| r.digest == key) {
            change(r);
        }
    }
}

impl Row {
    /// Bytes are coming in for it.
    fn live(&self) -> bool {
        matches!(self.state, "downloading" | "resuming" | "uploading")
    }

    /// Nothing is happening to it now.
    fn finished(&self) -> bool {
        self.kind.is_none()
            || matches!(self.state, "done" | "exists" | "pushed" | "mounted")
            || self.state.starts_with("unpacked")
    }
}

/// The closing line: time so far, bytes this run downloaded and their
/// rate over the download's `over` seconds, and what earlier runs kept.
fn totals(elapsed: f64, over: f64, bytes: u64, kept: u64) -> String {
    let kept = match kept {
        0 => String::new(),
        k => format!(", {} kept from before", human_size(k)),
    };
    format!(
        "elapsed: {elapsed:.1} s   total: {} ({}/s){kept}",
        human_size(bytes),
        human_size((bytes as f64 / over.max(0.001)) as u64)
    )
}

/// A line of the table, or a count of the rows folded into it.
enum Shown<'a> {
    Row(&'a Row),
    Folded(usize),
}

/// The rows to draw in `room` lines: all when they fit; else the name's
/// row, a count of the finished rows that do not fit, and the others, the
/// latest last.
fn shown(rows: &[Row], room: usize) -> Vec<Shown<'_>> {
    if rows.len() <= room {
        return rows.iter().map(Shown::Row).collect();
    }
    let (head, rest) = rows.split_at(1.min(rows.len()));
    let open: Vec<&Row> = rest.iter().filter(|r| !r.finished()).collect();
    let done: Vec<&Row> = rest.iter().filter(|r| r.finished()).collect();
    let room = room.saturating_sub(head.len() + 1);
    let open_shown = open.len().min(room);
    let done_shown = (room - open_shown).min(done.len());
    let mut out: Vec<Shown> = head.iter().map(Shown::Row).collect();
    out.push(Shown::Folded(done.len() - done_shown));
    out.extend(
        done[done.len() - done_shown..]
            .iter()
            .map(|r| Shown::Row(r)),
    );
    out.extend(
        open[open.len() - open_shown..]
            .iter()
            .map(|r| Shown::Row(r)),
    );
    out
}

/// `KEY: STATE |bar| BYTES` for one row.
fn row_line(r: &Row, wide: bool) -> String {
    let key = match r.kind {
        Some(kind) => format!("{kind}-{}", short(&r.digest, wide)),
        None => r.digest.clone(),
    };
    let frac = match r.total {
        0 => 1.0,
        t => r.offset as f64 / t as f64,
    };
    let bar_w = 30;
    let full = (frac.clamp(0.0, 1.0) * bar_w as f64) as usize;
    let bar = format!("{}{}", "+".repeat(full), " ".repeat(bar_w - full));
    let mut line = format!("{key}: {:<14} |{bar}|", r.state);
    if r.live() {
        line.push_str(&format!(
            " {}/{}",
            human_size(r.offset),
            human_size(r.total)
        ));
    }
    line
}

fn println_out(line: &str) {
    let mut out = io::stdout().lock();
    // A reader that went away is not the pull's failure.
    let _ = writeln!(out, "{line}");
}

/// The line an event prints in plain mode.
fn plain(e: &Event) -> Option<String> {
    Some(match e {
        Event::Resolved { name, target } => format!("{name}: resolved {}", target.digest),
        Event::Fetching { kind, desc, offset } if *offset > 0 => format!(
            "{kind}-{}: resuming at {} of {}",
            desc.digest,
            human_size(*offset),
            human_size(desc.size)
        ),
        Event::Fetching { kind, desc, .. } => {
            format!(
                "{kind}-{}: downloading {}",
                desc.digest,
                human_size(desc.size)
            )
        }
        Event::Progress { .. } => return None,
        Event::Fetched {
            kind,
            desc,
            existed,
            ..
        } if *existed => format!("{kind}-{}: exists", desc.digest),
        Event::Fetched { kind, desc, .. } => format!("{kind}-{}: done", desc.digest),
        Event::Unpacking(layer) => format!("layer-{}: unpacking", layer.digest),
        Event::Uploading { kind, desc, .. } => {
            format!(
                "{kind}-{}: uploading {}",
                desc.digest,
                human_size(desc.size)
            )
        }
        Event::Pushed { kind, desc, how } => match how {
            Put::Existed => format!("{kind}-{}: exists", desc.digest),
            Put::Mounted(from) if from.is_empty() => format!("{kind}-{}: mounted", desc.digest),
            Put::Mounted(from) => format!("{kind}-{}: mounted from {from}", desc.digest),
            Put::Uploaded(_) => format!("{kind}-{}: pushed", desc.digest),
        },
        Event::Unpacked(u) => format!(
            "layer-{}: {} {}",
            u.layer.digest,
            if u.existed {
                "unpacked already"
            } else {
                "unpacked"
            },
            u.chain_id
        ),
        Event::Named { name, target } => format!("{name}: named {}", target.digest),
        Event::Verified { signature, key } => format!("{signature}: verified with {key}"),
    })
}

/// The JSON object an event prints.
fn to_json(e: &Event) -> Option<serde_json::Value> {
    Some(match e {
        Event::Resolved { name, target } => json!({
            "event": "resolved", "name": name, "digest": target.digest.to_string(),
            "mediaType": target.media_type, "size": target.size,
        }),
        Event::Fetching { kind, desc, offset } => json!({
            "event": "fetching", "kind": kind.name(), "digest": desc.digest.to_string(),
            "size": desc.size, "offset": offset,
        }),
        Event::Progress { .. } => return None,
        Event::Fetched {
            kind,
            desc,
            existed,
            resumed_from,
            host,
        } => json!({
            "event": "fetched", "kind": kind.name(), "digest": desc.digest.to_string(),
            "size": desc.size, "existed": existed, "resumedFrom": resumed_from, "host": host,
        }),
        Event::Uploading { kind, desc, offset } => json!({
            "event": "uploading", "kind": kind.name(), "digest": desc.digest.to_string(),
            "size": desc.size, "offset": offset,
        }),
        Event::Pushed { kind, desc, how } => json!({
            "event": "pushed", "kind": kind.name(), "digest": desc.digest.to_string(),
            "size": desc.size, "existed": matches!(how, Put::Existed),
            "mountedFrom": match how { Put::Mounted(from) => Some(from.clone()), _ => None },
        }),
        Event::Unpacking(layer) => json!({
            "event": "unpacking", "digest": layer.digest.to_string(),
        }),
        Event::Unpacked(u) => json!({
            "event": "unpacked", "digest": u.layer.digest.to_string(),
            "diffID": u.diff_id.to_string(), "chainID": u.chain_id.to_string(),
            "existed": u.existed,
        }),
        Event::Named { name, target } => json!({
            "event": "named", "name": name, "digest": target.digest.to_string(),
        }),
        Event::Verified { signature, key } => json!({
            "event": "verified", "signature": signature, "key": key,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: Option<ObjectKind>, n: usize, state: &'static str) -> Row {
        Row {
            kind,
            digest: format!("sha256:{n:064}"),
            state,
            offset: 0,
            from: 0,
            total: 10,
        }
    }

    #[test]
    fn the_rate_is_over_the_download_and_kept_bytes_are_apart() {
        // 10 MB in 2 s of download, though 5 s have passed (unpacking).
        let line = totals(5.0, 2.0, 10_000_000, 0);
        assert_eq!(line, "elapsed: 5.0 s   total: 10.0 MB (5.0 MB/s)");
        let line = totals(1.0, 1.0, 1000, 4_000_000);
        assert!(line.ends_with(", 4.0 MB kept from before"), "{line}");
    }

    #[test]
    fn rows_that_do_not_fit_fold_into_a_count_keeping_the_open_ones() {
        let mut rows = vec![row(None, 0, "resolved")];
        for n in 1..=10 {
            rows.push(row(Some(ObjectKind::Layer), n, "done"));
        }
        rows.push(row(Some(ObjectKind::Layer), 11, "downloading"));
        rows.push(row(Some(ObjectKind::Layer), 12, "unpacking"));
        let all = shown(&rows, 20);
        assert_eq!(all.len(), rows.len());
        let few = shown(&rows, 5);
        assert_eq!(few.len(), 5);
        let states: Vec<String> = few
            .iter()
            .map(|s| match s {
                Shown::Row(r) => r.state.to_string(),
                Shown::Folded(n) => format!("folded {n}"),
            })
            .collect();
        assert_eq!(
            states,
            ["resolved", "folded 9", "done", "downloading", "unpacking"]
        );
    }
}
