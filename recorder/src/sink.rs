//! The writer thread: a capture backend hands it batches of records through a bounded channel,
//! and it compresses and writes them, so the capturing thread only decodes. Shared by the
//! ptrace and eBPF backends.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rhf_format::{FormatError, Record, TraceWriter, WriteSummary};

/// Records per batch handed to the writer: large enough that channel traffic is negligible,
/// small enough to bound what a crash loses together with the writer's own time flush.
const BATCH: usize = 1024;
/// A partial batch is handed over after this long, so a quiet capture still reaches disk.
const BATCH_AGE: Duration = Duration::from_millis(200);
/// Batches that may wait for the writer; beyond that the tracer blocks (back-pressure) rather
/// than buffering without bound.
const QUEUE: usize = 64;

/// Counters the writer thread publishes for progress lines.
#[derive(Debug, Default)]
pub struct WriterProgress {
    pub records: AtomicU64,
    pub bytes: AtomicU64,
}

/// The tracer's end of the pipe.
pub struct RecordPipe {
    tx: Option<SyncSender<Vec<Record>>>,
    batch: Vec<Record>,
    batch_started: Instant,
    /// Records that could not be handed over because the writer had failed.
    pub lost: u64,
    pub progress: Arc<WriterProgress>,
    /// Times are floored and durations rounded to a multiple of this (ns, at least 1).
    resolution: u64,
}

/// The writer thread, to be joined for its result.
pub struct WriterThread {
    handle: JoinHandle<Result<WriteSummary, FormatError>>,
}

/// Starts the writer thread over `writer`.
pub fn start<W: Write + Send + 'static>(
    writer: TraceWriter<W>,
    resolution_ns: u64,
) -> std::io::Result<(RecordPipe, WriterThread)> {
    let (tx, rx) = sync_channel(QUEUE);
    let progress = Arc::new(WriterProgress::default());
    let shared = Arc::clone(&progress);
    let handle = std::thread::Builder::new()
        .name("rhf-writer".into())
        .spawn(move || write_loop(writer, rx, &shared))?;
    let pipe = RecordPipe {
        tx: Some(tx),
        batch: Vec::with_capacity(BATCH),
        batch_started: Instant::now(),
        lost: 0,
        progress,
        resolution: resolution_ns.max(1),
    };
    Ok((pipe, WriterThread { handle }))
}

fn write_loop<W: Write>(
    mut writer: TraceWriter<W>,
    rx: Receiver<Vec<Record>>,
    progress: &WriterProgress,
) -> Result<WriteSummary, FormatError> {
    loop {
        match rx.recv_timeout(Duration::from_millis(250)) {
            Ok(batch) => {
                for record in &batch {
                    writer.push(record)?;
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                writer.flush_if_due(Instant::now())?;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
        progress.records.store(writer.records(), Ordering::Relaxed);
        progress
            .bytes
            .store(writer.bytes_written(), Ordering::Relaxed);
    }
    writer.finish().map(|(summary, _)| summary)
}

/// Drops the digits finer than `q` ns: the time is floored (order is kept), the duration
/// rounded to nearest (sums over many calls stay unbiased).
fn quantize(record: &mut Record, q: u64) {
    record.ts -= record.ts % q;
    if let rhf_format::RecordBody::Syscall(ev) = &mut record.body {
        ev.duration_ns = ev.duration_ns.saturating_add(q / 2) / q * q;
    }
}

impl RecordPipe {
    /// Queues one record; hands the batch over when it is full or old.
    pub fn push(&mut self, mut record: Record) {
        if self.tx.is_none() {
            self.lost += 1;
            return;
        }
        if self.resolution > 1 {
            quantize(&mut record, self.resolution);
        }
        self.batch.push(record);
        if self.batch.len() >= BATCH || self.batch_started.elapsed() >= BATCH_AGE {
            self.hand_over();
        }
    }

    /// Hands a partial batch over if it has waited too long (call when idle).
    pub fn tick(&mut self) {
        if !self.batch.is_empty() && self.batch_started.elapsed() >= BATCH_AGE {
            self.hand_over();
        }
    }

    /// True once the writer has stopped accepting records (it failed).
    pub fn failed(&self) -> bool {
        self.tx.is_none()
    }

    fn hand_over(&mut self) {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        self.batch_started = Instant::now();
        let Some(tx) = &self.tx else {
            self.lost += batch.len() as u64;
            return;
        };
        if let Err(failed) = tx.send(batch) {
            self.lost += failed.0.len() as u64;
            self.tx = None;
        }
    }

    /// Hands over what is left and closes the pipe; the writer then finishes the file.
    pub fn close(mut self, writer: WriterThread) -> (Result<WriteSummary, FormatError>, u64) {
        self.hand_over();
        self.tx = None;
        let result = writer.handle.join().unwrap_or_else(|_| {
            Err(FormatError::Encode {
                what: "trace",
                reason: "the writer thread panicked".into(),
            })
        });
        (result, self.lost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rhf_format::{RecordBody, SyscallEvent};

    #[test]
    fn quantize_floors_times_and_rounds_durations() {
        let mut r = Record {
            ts: 1_234_567,
            body: RecordBody::Syscall(SyscallEvent {
                duration_ns: 40_050,
                ..SyscallEvent::default()
            }),
        };
        quantize(&mut r, 100);
        assert_eq!(r.ts, 1_234_500);
        let RecordBody::Syscall(ev) = &r.body else {
            unreachable!()
        };
        assert_eq!(ev.duration_ns, 40_100);
    }
}
