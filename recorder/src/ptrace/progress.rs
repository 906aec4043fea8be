//! A progress line on stderr while a capture runs (only when stderr is a terminal): events,
//! bytes written, events per second.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const EVERY: Duration = Duration::from_millis(250);

pub struct Progress {
    bar: ProgressBar,
    started: Instant,
    last: Instant,
}

impl Progress {
    /// A progress line, or `None` when stderr is not a terminal (logs stay clean).
    pub fn on_terminal() -> Option<Progress> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(ProgressStyle::with_template("{spinner} {msg}").ok()?);
        let now = Instant::now();
        Some(Progress {
            bar,
            started: now,
            last: now,
        })
    }

    /// Updates the line at most every 250 ms.
    pub fn update(&mut self, events: u64, bytes: u64) {
        let now = Instant::now();
        if now.duration_since(self.last) < EVERY {
            return;
        }
        self.last = now;
        let secs = now.duration_since(self.started).as_secs_f64().max(1e-9);
        self.bar.set_message(format!(
            "{events} events, {} written, {:.0} events/s",
            human_bytes(bytes),
            events as f64 / secs
        ));
        self.bar.tick();
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn human_bytes(b: u64) -> String {
    match b {
        0..1024 => format!("{b} B"),
        1024..1_048_576 => format!("{:.1} KiB", b as f64 / 1024.0),
        _ => format!("{:.1} MiB", b as f64 / 1_048_576.0),
    }
}
