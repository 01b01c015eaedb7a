//! Bounding password-hash work. argon2id (19 MiB, ~tens of ms of CPU) runs on the blocking pool;
//! without a bound, a burst of 500 sign-ins asks for 500 hashes at once — 9.5 GiB — and every
//! other request waits behind them. At most `concurrency` hashes run at once (one per core by
//! default) and at most `queue` more wait; beyond that the caller answers 503 with
//! `Retry-After`, which is safe to retry (nothing was counted or changed).

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use tokio::sync::Semaphore;

/// The gate every password hash goes through.
#[derive(Debug)]
pub struct HashGate {
    permits: Semaphore,
    capacity: usize,
    inside: AtomicUsize,
    running: AtomicUsize,
    peak: AtomicUsize,
}

/// A place in the gate (waiting or running), released when dropped.
#[derive(Debug)]
pub struct QueueSlot {
    gate: Arc<HashGate>,
}

impl Drop for QueueSlot {
    fn drop(&mut self) {
        self.gate.inside.fetch_sub(1, Ordering::AcqRel);
    }
}

impl HashGate {
    /// `concurrency` hashes at once (at least one), `queue` waiting.
    pub fn new(concurrency: usize, queue: usize) -> Arc<Self> {
        let concurrency = concurrency.max(1);
        Arc::new(Self {
            permits: Semaphore::new(concurrency),
            capacity: concurrency + queue,
            inside: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        })
    }

    /// A place in the queue, or `None` when running and waiting hashes fill the gate.
    pub fn enter(self: &Arc<Self>) -> Option<QueueSlot> {
        let previous = self.inside.fetch_add(1, Ordering::AcqRel);
        let slot = QueueSlot {
            gate: Arc::clone(self),
        };
        (previous < self.capacity).then_some(slot)
    }

    /// Runs `work` (CPU-bound) on the blocking pool once a permit is free.
    pub async fn run<T, F>(&self, slot: QueueSlot, work: F) -> Option<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = self.permits.acquire().await.ok()?;
        let now = self.running.fetch_add(1, Ordering::AcqRel) + 1;
        self.peak.fetch_max(now, Ordering::AcqRel);
        let result = tokio::task::spawn_blocking(work).await.ok();
        self.running.fetch_sub(1, Ordering::AcqRel);
        drop(permit);
        drop(slot);
        result
    }

    /// The most hashes that ever ran at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_than_the_permits_run_and_the_queue_overflows_to_none() {
        let gate = HashGate::new(2, 3);
        let mut tasks = Vec::new();
        let mut refused = 0;
        for _ in 0..20 {
            match gate.enter() {
                Some(slot) => {
                    let gate = Arc::clone(&gate);
                    tasks.push(tokio::spawn(async move {
                        gate.run(slot, || {
                            std::thread::sleep(std::time::Duration::from_millis(20))
                        })
                        .await
                    }));
                }
                None => refused += 1,
            }
        }
        for task in tasks {
            assert!(task.await.unwrap().is_some());
        }
        assert!(gate.peak() <= 2, "peak {}", gate.peak());
        assert!(refused >= 20 - 5, "refused {refused}");
        assert!(gate.enter().is_some(), "the queue drains");
    }
}
