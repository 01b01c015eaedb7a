//! Slowing down client-secret guessing at the token endpoint: after a few failures for one
//! client_id, each further attempt waits longer before it is answered, up to a cap. Kept in each
//! instance's memory: across instances it is an approximation, and it delays rather than locks
//! out, so an attacker can not use it to shut a legitimate client out. (User sign-in has its own
//! database-backed throttle: [`crate::sign_in`].)

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Failures are counted over this window.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Failures allowed in a window before attempts are slowed down.
pub const FREE_FAILURES: u32 = 5;
/// The longest wait.
pub const MAX_DELAY: Duration = Duration::from_secs(8);
const MAX_ENTRIES: usize = 100_000;

/// Failure counts by key: from the 6th failure within the window, each attempt waits
/// 250 ms × 2^(n-6), at most 8 s; with a lock threshold, a key that reaches it is refused outright
/// until its window ends.
#[derive(Debug)]
pub struct Throttle {
    failures: Mutex<HashMap<String, (Instant, u32)>>,
    window: Duration,
    lock_after: Option<u32>,
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new(WINDOW, None)
    }
}

impl Throttle {
    /// A throttle counting failures over `window`, locking a key after `lock_after` of them.
    pub fn new(window: Duration, lock_after: Option<u32>) -> Self {
        Self {
            failures: Mutex::new(HashMap::new()),
            window,
            lock_after,
        }
    }

    /// Whether `key` is locked now (too many failures in its window).
    pub fn locked(&self, key: &str) -> bool {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        match (failures.get(key), self.lock_after) {
            (Some((since, count)), Some(limit)) => since.elapsed() < self.window && *count >= limit,
            _ => false,
        }
    }

    /// How long an attempt for `key` must wait now.
    pub fn delay(&self, key: &str) -> Duration {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        match failures.get(key) {
            Some((since, count)) if since.elapsed() < self.window && *count > FREE_FAILURES => {
                let exponent = (*count - FREE_FAILURES - 1).min(5);
                (Duration::from_millis(250) * 2u32.pow(exponent)).min(MAX_DELAY)
            }
            _ => Duration::ZERO,
        }
    }

    /// Records a failure.
    pub fn failed(&self, key: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= MAX_ENTRIES {
            let window = self.window;
            failures.retain(|_, (since, _)| since.elapsed() < window);
        }
        let entry = failures
            .entry(key.to_owned())
            .or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= self.window {
            *entry = (Instant::now(), 0);
        }
        entry.1 += 1;
    }

    /// Forgets failures after a success.
    pub fn succeeded(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_delays_only_after_repeated_failures_and_resets_on_success() {
        let throttle = Throttle::default();
        for _ in 0..5 {
            throttle.failed("c");
        }
        assert_eq!(throttle.delay("c"), Duration::ZERO);
        throttle.failed("c");
        assert_eq!(throttle.delay("c"), Duration::from_millis(250));
        throttle.failed("c");
        assert_eq!(throttle.delay("c"), Duration::from_millis(500));
        for _ in 0..20 {
            throttle.failed("c");
        }
        assert_eq!(throttle.delay("c"), MAX_DELAY);
        assert_eq!(throttle.delay("other"), Duration::ZERO);
        throttle.succeeded("c");
        assert_eq!(throttle.delay("c"), Duration::ZERO);
    }

    #[test]
    fn a_lock_threshold_refuses_the_key_and_only_that_key() {
        let throttle = Throttle::new(Duration::from_secs(900), Some(3));
        throttle.failed("user:a");
        throttle.failed("user:a");
        assert!(!throttle.locked("user:a"));
        throttle.failed("user:a");
        assert!(throttle.locked("user:a"));
        assert!(!throttle.locked("user:b"));
        assert!(
            !Throttle::default().locked("user:a"),
            "no threshold, no lock"
        );
    }
}
