//! The non-blocking log writer: lines go into a bounded buffer that one thread writes out in
//! batches, so no request waits on stderr (a slow log collector, a full pipe). Past the bound,
//! lines are dropped and counted (`log_lines_dropped_total`) instead of blocking.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

/// Bytes of log lines that may wait for the writer (about 16,000 access lines).
pub const CAPACITY: usize = 4 << 20;
/// How long the writer lets lines gather before one write (only while lines keep coming).
const BATCH_WAIT: Duration = Duration::from_millis(20);

/// The metric counting lines that did not fit.
pub const DROPPED: &str = "log_lines_dropped_total";

/// A bounded buffer of log lines and the thread that writes it out.
pub struct Sink {
    state: Mutex<State>,
    wake: Condvar,
    out: Mutex<Box<dyn Write + Send>>,
    capacity: usize,
}

struct State {
    buf: Vec<u8>,
    /// The writer waits for a first line (else it wakes by itself while lines come).
    asleep: bool,
}

impl Sink {
    /// Starts the writer thread over `out`; at most `capacity` bytes wait.
    pub fn start(out: Box<dyn Write + Send>, capacity: usize) -> Arc<Sink> {
        let sink = Arc::new(Sink {
            state: Mutex::new(State {
                buf: Vec::new(),
                asleep: false,
            }),
            wake: Condvar::new(),
            out: Mutex::new(out),
            capacity,
        });
        let writer = sink.clone();
        if std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || writer.run())
            .is_err()
        {
            // No thread: lines wait until `flush` (at exit) rather than being lost.
            eprintln!("enroll: cannot start the log writer thread; logs are written at exit");
        }
        sink
    }

    /// Queues one whole line (or several); false when it was dropped because the buffer is full.
    pub fn push(&self, line: &[u8]) -> bool {
        let mut state = self.lock();
        if state.buf.len() + line.len() > self.capacity {
            drop(state);
            metrics::counter!(DROPPED).increment(1);
            return false;
        }
        state.buf.extend_from_slice(line);
        if state.asleep {
            state.asleep = false;
            drop(state);
            self.wake.notify_one();
        }
        true
    }

    /// Writes out whatever waits, now (at exit). Gives up after a second when the output is
    /// stuck, so a dead log collector cannot hold up a shutdown.
    pub fn flush(&self) {
        let mut out = None;
        for _ in 0..100 {
            match self.out.try_lock() {
                Ok(guard) => {
                    out = Some(guard);
                    break;
                }
                Err(std::sync::TryLockError::Poisoned(p)) => {
                    out = Some(p.into_inner());
                    break;
                }
                Err(std::sync::TryLockError::WouldBlock) => {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
        let Some(mut out) = out else { return };
        let pending = std::mem::take(&mut self.lock().buf);
        let _ = out.write_all(&pending);
        let _ = out.flush();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn run(&self) {
        let mut batch = Vec::new();
        loop {
            {
                let mut state = self.lock();
                if state.buf.is_empty() {
                    state.asleep = true;
                    drop(
                        self.wake
                            .wait_while(state, |s| s.buf.is_empty())
                            .unwrap_or_else(PoisonError::into_inner),
                    );
                }
            }
            // Lines keep coming under load: one write for many of them.
            std::thread::sleep(BATCH_WAIT);
            let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
            std::mem::swap(&mut self.lock().buf, &mut batch);
            // A failed write (stderr closed) loses this batch only; there is nowhere to say so.
            let _ = out.write_all(&batch);
            let _ = out.flush();
            drop(out);
            batch.clear();
            // A burst must not keep its memory for the life of the process.
            if batch.capacity() > self.capacity / 4 {
                batch = Vec::new();
            }
        }
    }
}

/// The process's sink, writing to stderr (started on first use).
pub fn stderr() -> &'static Sink {
    static SINK: OnceLock<Arc<Sink>> = OnceLock::new();
    SINK.get_or_init(|| Sink::start(Box::new(std::io::stderr()), CAPACITY))
}

/// `tracing_subscriber`'s writer for the stderr sink: each event is one `write` (the
/// formatter writes a whole line at once), so lines never interleave.
#[derive(Clone, Copy, Default)]
pub struct SinkWriter;

impl Write for SinkWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        stderr().push(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for SinkWriter {
    type Writer = SinkWriter;

    fn make_writer(&'a self) -> SinkWriter {
        SinkWriter
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A writer that hands each write to the test, and can be held up.
    struct Gate {
        lines: mpsc::Sender<Vec<u8>>,
        hold: Arc<Mutex<()>>,
    }

    impl Write for Gate {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _held = self.hold.lock().unwrap();
            let _ = self.lines.send(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_arrive_whole_and_in_order() {
        let (tx, rx) = mpsc::channel();
        let sink = Sink::start(
            Box::new(Gate {
                lines: tx,
                hold: Arc::default(),
            }),
            1 << 20,
        );
        for i in 0..1000 {
            assert!(sink.push(format!("line {i}\n").as_bytes()));
        }
        let mut got = Vec::new();
        while got.len() < 1000 {
            let batch = rx.recv_timeout(Duration::from_secs(5)).unwrap();
            let text = String::from_utf8(batch).unwrap();
            got.extend(text.lines().map(str::to_owned));
        }
        let want: Vec<String> = (0..1000).map(|i| format!("line {i}")).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_stuck_writer_drops_lines_instead_of_blocking() {
        let (tx, rx) = mpsc::channel();
        let hold = Arc::new(Mutex::new(()));
        let held = hold.lock().unwrap();
        let sink = Sink::start(
            Box::new(Gate {
                lines: tx,
                hold: hold.clone(),
            }),
            100,
        );
        // The writer takes the first line and blocks on the held output.
        assert!(sink.push(b"first line\n"));
        std::thread::sleep(BATCH_WAIT * 3);
        let started = std::time::Instant::now();
        let kept = (0..50).filter(|_| sink.push(b"0123456789\n")).count();
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "push never blocks"
        );
        assert_eq!(kept, 9, "only what fits in 100 bytes waits");
        drop(held);
        let mut text = String::new();
        while text.lines().count() < 10 {
            let batch = rx.recv_timeout(Duration::from_secs(5)).unwrap();
            text.push_str(&String::from_utf8(batch).unwrap());
        }
        assert!(text.starts_with("first line\n"), "{text}");
        assert_eq!(text.lines().count(), 10, "{text}");
    }
}
