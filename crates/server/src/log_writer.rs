//! Where log lines go: a shared buffer that a background thread writes to stderr every
//! [`FLUSH_EVERY`], so that a request pays for formatting its line and a copy, never for a
//! `write(2)` or for waking another thread.
//!
//! Lossless and bounded: when the buffer holds [`CAP`] bytes (stderr stalled: a full pipe, a
//! stopped collector), the logging thread writes the buffer out itself — back-pressure, as an
//! unbuffered writer would give — rather than dropping lines or growing without bound. What is
//! buffered when the process is killed with SIGKILL (at most the last flush interval) is lost;
//! dropping the [`Flusher`] (the end of `main`) writes it out.

use std::{
    io::Write,
    sync::{Arc, Condvar, Mutex},
    thread::JoinHandle,
    time::Duration,
};

use tracing_subscriber::fmt::MakeWriter;

/// How often buffered lines are written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// The most bytes buffered before a logging thread writes them itself.
pub const CAP: usize = 4 << 20;

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct State {
    buffer: Vec<u8>,
    closed: bool,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn write_out(bytes: &[u8]) {
    // Nothing sensible remains to be done when stderr itself fails.
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(bytes).and_then(|()| stderr.flush());
}

/// The writer handed to the formatter (cheap to clone).
#[derive(Debug, Clone)]
pub struct BufferedStderr {
    shared: Arc<Shared>,
}

/// Keeps the background thread; dropping it writes out what is buffered and stops the thread.
#[derive(Debug)]
pub struct Flusher {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// A buffered stderr and the thread that empties it.
pub fn buffered_stderr() -> (BufferedStderr, Flusher) {
    let shared = Arc::new(Shared::default());
    let background = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name("tessera-log".into())
        .spawn(move || {
            loop {
                let (bytes, closed) = {
                    let state = background.lock();
                    let (mut state, _) = background
                        .wake
                        .wait_timeout_while(state, FLUSH_EVERY, |s| !s.closed)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    (std::mem::take(&mut state.buffer), state.closed)
                };
                if !bytes.is_empty() {
                    write_out(&bytes);
                }
                if closed {
                    break;
                }
            }
        })
        .ok();
    (
        BufferedStderr {
            shared: Arc::clone(&shared),
        },
        Flusher { shared, thread },
    )
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        // Lines logged after the thread stopped.
        let rest = std::mem::take(&mut self.shared.lock().buffer);
        write_out(&rest);
    }
}

/// One formatted event, appended to the buffer in one piece when it is done.
#[derive(Debug)]
pub struct Line {
    shared: Arc<Shared>,
    line: Vec<u8>,
}

impl Write for Line {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.line.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        self.shared.append(&self.line);
    }
}

impl Shared {
    /// Appends one whole line (or writes it at once after the flusher stopped).
    fn append(&self, line: &[u8]) {
        let mut state = self.lock();
        if state.closed {
            drop(state);
            write_out(line);
            return;
        }
        state.buffer.extend_from_slice(line);
        if state.buffer.len() >= CAP {
            // stderr is not keeping up: this thread writes, the others wait on the lock.
            let bytes = std::mem::take(&mut state.buffer);
            write_out(&bytes);
        }
    }
}

impl BufferedStderr {
    /// Appends a finished line (newline included), as a formatted event does.
    pub fn append(&self, line: &[u8]) {
        self.shared.append(line);
    }
}

impl<'a> MakeWriter<'a> for BufferedStderr {
    type Writer = Line;

    fn make_writer(&'a self) -> Self::Writer {
        Line {
            shared: Arc::clone(&self.shared),
            line: Vec::with_capacity(256),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_buffered_whole_and_written_out_on_drop() {
        let (writer, flusher) = buffered_stderr();
        {
            let mut line = writer.make_writer();
            line.write_all(b"half ").unwrap();
            assert!(
                writer.shared.lock().buffer.is_empty(),
                "not before the line is done"
            );
            line.write_all(b"a line\n").unwrap();
        }
        let buffered = writer.shared.lock().buffer.clone();
        assert!(buffered.is_empty() || buffered == b"half a line\n");
        drop(flusher);
        assert!(writer.shared.lock().buffer.is_empty());
        assert!(writer.shared.lock().closed);
    }
}
