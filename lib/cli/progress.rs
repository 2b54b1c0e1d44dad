//! How a pull shows itself: when stderr is a terminal, a status table
//! redrawn in place there (one line per object: kind-digest, state, bar,
//! bytes; then elapsed time, total and rate); on stdout, unless it is that
//! terminal too, one line per event (`KEY: STATE DETAIL`), or one JSON
//! object per event for programs.

use std::io::{self, IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use super::table::human_size;
use crate::graph::ObjectKind;
use crate::transfer::{Event, Pulled};

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
    total: u64,
}

struct Screen {
    rows: Vec<Row>,
    drawn: usize,
    downloaded: u64,
}

/// The display of one pull, fed by its events from any thread: the status
/// table on stderr when it is a terminal, and event lines on stdout (none
/// when stdout is that terminal too).
pub struct Display {
    mode: Mode,
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
        let table = io::stderr().is_terminal();
        let mode = if json {
            Mode::Json
        } else if table && io::stdout().is_terminal() {
            Mode::Quiet
        } else {
            Mode::Plain
        };
        Display {
            mode,
            table,
            start: Instant::now(),
            screen: Mutex::new(Screen {
                rows: Vec::new(),
                drawn: 0,
                downloaded: 0,
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
                    println_out(&line);
                }
            }
            Mode::Json => {
                if let Some(v) = to_json(e) {
                    println_out(&v.to_string());
                }
            }
        }
    }

    fn update(&self, e: &Event) {
        let mut sc = self.screen();
        let row = |sc: &mut Screen, kind: Option<ObjectKind>, digest: String, total: u64| match sc
            .rows
            .iter()
            .position(|r| r.digest == digest)
        {
            Some(i) => i,
            None => {
                sc.rows.push(Row {
                    kind,
                    digest,
                    state: "waiting",
                    offset: 0,
                    total,
                });
                sc.rows.len() - 1
            }
        };
        match e {
            Event::Resolved { name, target } => {
                let i = row(&mut sc, None, name.to_string(), target.size);
                sc.rows[i].state = "resolved";
                sc.rows[i].offset = target.size;
            }
            Event::Fetching { kind, desc, offset } => {
                let i = row(&mut sc, Some(*kind), desc.digest.to_string(), desc.size);
                sc.rows[i].state = if *offset > 0 {
                    "resuming"
                } else {
                    "downloading"
                };
                sc.rows[i].offset = *offset;
            }
            Event::Progress { desc, offset } => {
                if let Some(r) = sc
                    .rows
                    .iter_mut()
                    .find(|r| r.digest == desc.digest.to_string())
                {
                    r.offset = *offset;
                }
            }
            Event::Fetched {
                kind,
                desc,
                existed,
                resumed_from,
            } => {
                let i = row(&mut sc, Some(*kind), desc.digest.to_string(), desc.size);
                sc.rows[i].state = if *existed { "exists" } else { "done" };
                sc.rows[i].offset = desc.size;
                if !existed {
                    sc.downloaded += desc.size - (*resumed_from).min(desc.size);
                }
            }
            Event::Unpacked(u) => {
                if let Some(r) = sc
                    .rows
                    .iter_mut()
                    .find(|r| r.digest == u.layer.digest.to_string())
                {
                    r.state = if u.existed {
                        "unpacked (had)"
                    } else {
                        "unpacked"
                    };
                }
            }
            Event::Named { .. } => {}
        }
    }

    fn draw(&self) {
        let width = rustix::termios::tcgetwinsize(io::stderr())
            .map(|w| w.ws_col as usize)
            .unwrap_or(80)
            .max(40);
        let wide = width >= 150;
        let mut sc = self.screen();
        let mut text = String::new();
        if sc.drawn > 0 {
            text.push_str(&format!("\x1b[{}A", sc.drawn));
        }
        let keys: Vec<String> = sc
            .rows
            .iter()
            .map(|r| match r.kind {
                Some(kind) => format!("{kind}-{}", short(&r.digest, wide)),
                None => r.digest.clone(),
            })
            .collect();
        let kw = keys.iter().map(|k| k.chars().count()).max().unwrap_or(0);
        let mut lines = Vec::new();
        for (r, key) in sc.rows.iter().zip(&keys) {
            let frac = if r.total == 0 {
                1.0
            } else {
                r.offset as f64 / r.total as f64
            };
            let bar_w = 30;
            let full = ((frac.clamp(0.0, 1.0)) * bar_w as f64) as usize;
            let bar = format!("{}{}", "+".repeat(full), " ".repeat(bar_w - full));
            let mut line = format!("{key:<kw$}: {:<14} |{bar}|", r.state);
            if r.live() {
                line.push_str(&format!(
                    " {}/{}",
                    human_size(r.offset),
                    human_size(r.total)
                ));
            }
            lines.push(line);
        }
        let elapsed = self.start.elapsed().as_secs_f64();
        let live: u64 = sc.rows.iter().filter(|r| r.live()).map(|r| r.offset).sum();
        let total = sc.downloaded + live;
        lines.push(totals(elapsed, total));
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

    /// Ends the display: the last table, or the closing line or object.
    pub fn finish(&self, pulled: &Pulled) {
        let elapsed = self.start.elapsed().as_secs_f64();
        if self.table {
            self.stop.store(true, Ordering::Relaxed);
            self.draw();
        }
        match self.mode {
            Mode::Quiet => {}
            Mode::Plain => println_out(&totals(elapsed, pulled.downloaded)),
            Mode::Json => println_out(
                &json!({
                    "event": "done",
                    "name": pulled.name,
                    "digest": pulled.target.digest.to_string(),
                    "downloaded": pulled.downloaded,
                    "elapsed": (elapsed * 1000.0).round() / 1000.0,
                    "chainID": pulled.chain_id.as_ref().map(|c| c.to_string()),
                })
                .to_string(),
            ),
        }
    }
}

impl Row {
    /// Bytes are coming in for it.
    fn live(&self) -> bool {
        self.state == "downloading" || self.state == "resuming"
    }
}

/// The closing line: time so far, bytes downloaded and the rate.
fn totals(elapsed: f64, bytes: u64) -> String {
    format!(
        "elapsed: {elapsed:.1} s   total: {} ({}/s)",
        human_size(bytes),
        human_size((bytes as f64 / elapsed.max(0.001)) as u64)
    )
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
        } => json!({
            "event": "fetched", "kind": kind.name(), "digest": desc.digest.to_string(),
            "size": desc.size, "existed": existed, "resumedFrom": resumed_from,
        }),
        Event::Unpacked(u) => json!({
            "event": "unpacked", "digest": u.layer.digest.to_string(),
            "diffID": u.diff_id.to_string(), "chainID": u.chain_id.to_string(),
            "existed": u.existed,
        }),
        Event::Named { name, target } => json!({
            "event": "named", "name": name, "digest": target.digest.to_string(),
        }),
    })
}
