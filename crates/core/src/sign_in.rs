//! The sign-in throttle: how failed passwords slow down guessing without letting a stranger lock
//! anyone out (RFC 9700 §4.12 on brute force, OWASP's "account lockout" DoS).
//!
//! Three counters are kept, in the database so that every instance enforces one limit:
//!
//! - **account from one address** — the guessing one attacker does. Five attempts are free; then
//!   each further one makes the next wait 1 s, 2 s, 4 s … up to 15 minutes.
//! - **account** — guessing spread over many addresses. Ten attempts are free; then the wait
//!   grows to at most 30 s, so a third party can slow an account down but never lock it.
//! - **address** — one address trying many accounts. A hard limit far above what people behind
//!   one NAT or load balancer type (1000 in 15 minutes); then refused until the window ends. An
//!   IPv6 address counts as its /64, which one host can fill.
//!
//! An attempt is *counted before the password hash runs* (one atomic `UPDATE` whose `WHERE` is
//! the admission check, so parallel guesses can not slip past it), and an attempt that a counter
//! refuses is
//! answered at once (429 with `Retry-After`), without hashing. A successful sign-in clears the
//! account's two counters; the address counter stays (it bounds an address's total). Refusal is
//! always temporary: nothing here disables an account.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::{
    secret::TokenHash,
    store::{AttemptWaits, StoreError, ThrottleCounterRecord, ThrottleRepo},
};

/// The longest username kept in a counter's label.
const LABEL_USERNAME_CHARS: usize = 64;
/// Rounds of count / read / start-a-window before an attempt is refused as contended.
const MAX_CAS_ROUNDS: usize = 32;

/// The limits of one counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Attempts allowed in a window before waits begin.
    pub free: u32,
    /// The first wait; each further attempt doubles it.
    pub first_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
}

impl Limit {
    /// How long the attempt after the `count`-th must wait.
    fn delay_after(&self, count: u32) -> Option<Duration> {
        let over = count.checked_sub(self.free).filter(|over| *over > 0)?;
        let doublings = (over - 1).min(30);
        let delay = self
            .first_delay
            .checked_mul(1_i32 << doublings.min(30))
            .unwrap_or(self.max_delay);
        Some(delay.min(self.max_delay))
    }
}

/// The whole policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Counters reset after this window.
    pub window: Duration,
    /// Per account from one address.
    pub account_address: Limit,
    /// Per account, from anywhere.
    pub account: Limit,
    /// Attempts from one address (any accounts) refused beyond this many per window.
    pub address_limit: u32,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            window: Duration::minutes(15),
            account_address: Limit {
                free: 5,
                first_delay: Duration::seconds(1),
                max_delay: Duration::minutes(15),
            },
            account: Limit {
                free: 10,
                first_delay: Duration::seconds(1),
                max_delay: Duration::seconds(30),
            },
            address_limit: 1000,
        }
    }
}

/// The answer to "may this attempt run?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Counted; go on and check the password.
    Admitted,
    /// Refused for this long.
    Refused(Duration),
}

/// What a counter is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    AccountAddress,
    Account,
    Address,
    /// Failed client authentications of one client from one address
    /// ([`crate::client_throttle`]).
    ClientAddress,
    /// Authorization requests kept waiting for sign-in from one address
    /// ([`crate::pending_limit`]).
    PendingAddress,
    /// Device user codes entered from one address ([`crate::device`]).
    UserCodeAddress,
    /// Device user codes entered by one signed-in account ([`crate::device`]).
    UserCodeAccount,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::AccountAddress => "account_address",
            Kind::Account => "account",
            Kind::Address => "address",
            Kind::ClientAddress => "client_address",
            Kind::PendingAddress => "pending_address",
            Kind::UserCodeAddress => "user_code_address",
            Kind::UserCodeAccount => "user_code_account",
        }
    }
}

pub(crate) struct Key {
    pub(crate) kind: Kind,
    pub(crate) hash: TokenHash,
    pub(crate) label: String,
}

impl Key {
    /// The key of `kind` for `value`.
    pub(crate) fn new(kind: Kind, value: &str, label: String) -> Self {
        Self {
            kind,
            hash: TokenHash::of(&format!("{}:{value}", kind.as_str())),
            label,
        }
    }
}

/// The address a counter is kept for: an IPv4 address as it is, an IPv6 address as its /64 (one
/// subscriber's network: a single host can take any address in it).
pub(crate) fn counted_address(address: &str) -> String {
    match address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let network = u128::from(v6) & (u128::MAX << 64);
            format!("{}/64", std::net::Ipv6Addr::from(network))
        }
        Ok(std::net::IpAddr::V6(v6)) => v6
            .to_ipv4_mapped()
            .map_or_else(|| address.to_owned(), |v4| v4.to_string()),
        _ => address.to_owned(),
    }
}

/// How `username`'s account is named in its counters' labels: the account's own counter is
/// labelled this, its counters per address `<this> from <address>`.
pub fn account_label(username: &str) -> String {
    username
        .trim()
        .to_lowercase()
        .chars()
        .take(LABEL_USERNAME_CHARS)
        .collect()
}

/// Whether a counter of `kind` labelled `label` (as listed, `ThrottleCounterRecord`) counts
/// sign-ins to `username`'s account: its own counter, or one of its counters per address.
pub fn counts_account(kind: &str, label: &str, username: &str) -> bool {
    let shown = account_label(username);
    match kind {
        "account" => label == shown,
        "account_address" => label
            .strip_prefix(shown.as_str())
            .is_some_and(|rest| rest.starts_with(" from ")),
        _ => false,
    }
}

fn keys(username: &str, address: &str) -> [Key; 3] {
    let address = &counted_address(address);
    let account = username.trim().to_lowercase();
    let shown = account_label(&account);
    let key = Key::new;
    [
        key(
            Kind::AccountAddress,
            &format!("{account}\u{0}{address}"),
            format!("{shown} from {address}"),
        ),
        key(Kind::Account, &account, shown),
        key(Kind::Address, address, address.to_owned()),
    ]
}

/// The sign-in throttle over a [`ThrottleRepo`].
#[derive(Clone)]
pub struct SignInThrottle {
    repo: Arc<dyn ThrottleRepo>,
    policy: ThrottlePolicy,
}

impl std::fmt::Debug for SignInThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInThrottle")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl SignInThrottle {
    /// The counters' store (shared with the per-address bound of waiting requests,
    /// `crate::pending_limit`).
    pub fn repo(&self) -> &dyn ThrottleRepo {
        self.repo.as_ref()
    }

    /// A throttle with `policy` over `repo`.
    pub fn new(repo: Arc<dyn ThrottleRepo>, policy: ThrottlePolicy) -> Self {
        Self { repo, policy }
    }

    /// Counts an attempt to sign in as `username` from `address`, or refuses it. Counters are
    /// taken in order — address, account from address, account — and the first that refuses
    /// ends the attempt, so the ones after it are not counted: an address past its limit creates
    /// no counters for the (possibly invented) usernames it tries.
    pub async fn admit(
        &self,
        username: &str,
        address: &str,
        now: DateTime<Utc>,
    ) -> Result<Admission, StoreError> {
        let [account_address, account, address] = keys(username, address);
        for key in [address, account_address, account] {
            if let Admission::Refused(wait) = self.count(&key, now).await? {
                return Ok(Admission::Refused(wait));
            }
        }
        Ok(Admission::Admitted)
    }

    /// A successful sign-in: the account's counters are cleared.
    pub async fn succeeded(&self, username: &str, address: &str) -> Result<(), StoreError> {
        let [account_address, account, _] = keys(username, address);
        self.repo.delete_counter(&account_address.hash).await?;
        self.repo.delete_counter(&account.hash).await?;
        Ok(())
    }

    /// The waits that attempts on a counter of `kind` cause, as of `now`.
    fn waits(&self, kind: Kind, now: DateTime<Utc>) -> AttemptWaits {
        match kind {
            Kind::AccountAddress => schedule(self.policy.account_address, now),
            Kind::Account | Kind::ClientAddress | Kind::UserCodeAccount => {
                schedule(self.policy.account, now)
            }
            Kind::Address | Kind::PendingAddress | Kind::UserCodeAddress => AttemptWaits {
                free: self.policy.address_limit,
                blocked_until: Vec::new(),
                max_failures: Some(self.policy.address_limit),
            },
        }
    }

    async fn count(&self, key: &Key, now: DateTime<Utc>) -> Result<Admission, StoreError> {
        count(
            self.repo.as_ref(),
            key,
            &self.waits(key.kind, now),
            self.policy.window,
            now,
        )
        .await
    }
}

/// The waits a counter with `limit` causes, as of `now`.
pub(crate) fn schedule(limit: Limit, now: DateTime<Utc>) -> AttemptWaits {
    let mut steps = Vec::new();
    let mut count = limit.free;
    loop {
        count = count.saturating_add(1);
        let Some(delay) = limit.delay_after(count) else {
            break;
        };
        steps.push(now + delay);
        if delay >= limit.max_delay || steps.len() > 40 {
            break;
        }
    }
    AttemptWaits {
        free: limit.free,
        blocked_until: steps,
        max_failures: None,
    }
}

/// Counts one attempt on `key`'s counter (shared by every instance), or refuses it: one atomic
/// `UPDATE` in the common case; a new window when there is no counter or its window ended.
pub(crate) async fn count(
    repo: &dyn ThrottleRepo,
    key: &Key,
    waits: &AttemptWaits,
    window: Duration,
    now: DateTime<Utc>,
) -> Result<Admission, StoreError> {
    for _ in 0..MAX_CAS_ROUNDS {
        // The common case: one atomic UPDATE counts the attempt, or refuses it.
        if repo.count_attempt(&key.hash, now, waits).await? {
            return Ok(Admission::Admitted);
        }
        let current = repo.find_counter(&key.hash).await?;
        let expected = match current {
            Some(current) if current.window_ends_at > now => {
                if let Some(until) = current.blocked_until.filter(|until| *until > now) {
                    return Ok(Admission::Refused(until - now));
                }
                if waits
                    .max_failures
                    .is_some_and(|max| current.failures >= max)
                {
                    return Ok(Admission::Refused(current.window_ends_at - now));
                }
                // Unblocked between the two reads: count again.
                continue;
            }
            stale => stale,
        };
        // No row, or one whose window ended: a new window begins with this attempt.
        let window_ends_at = now + window;
        let fresh = ThrottleCounterRecord {
            key_hash: key.hash.clone(),
            kind: key.kind.as_str().to_owned(),
            label: key.label.clone(),
            failures: 1,
            window_started_at: now,
            window_ends_at,
            blocked_until: (waits.free == 0)
                .then(|| waits.blocked_until.first().copied())
                .flatten(),
        };
        let stored = match expected {
            Some(old) => {
                repo.replace_counter(&fresh, old.failures, old.window_started_at)
                    .await?
            }
            None => match repo.insert_counter(&fresh).await {
                Ok(()) => true,
                Err(StoreError::Conflict { .. }) => false,
                Err(err) => return Err(err),
            },
        };
        if stored {
            return Ok(Admission::Admitted);
        }
    }
    // Lost every round to concurrent window resets on the same key: that is a flood.
    Ok(Admission::Refused(Duration::seconds(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_after_the_free_attempts_and_stop_at_the_cap() {
        let policy = ThrottlePolicy::default();
        let limit = policy.account_address;
        assert_eq!(limit.delay_after(5), None);
        assert_eq!(limit.delay_after(6), Some(Duration::seconds(1)));
        assert_eq!(limit.delay_after(7), Some(Duration::seconds(2)));
        assert_eq!(limit.delay_after(12), Some(Duration::seconds(64)));
        assert_eq!(limit.delay_after(40), Some(Duration::minutes(15)));
        assert_eq!(limit.delay_after(u32::MAX), Some(Duration::minutes(15)));
        let account = policy.account;
        assert_eq!(account.delay_after(10), None);
        assert_eq!(account.delay_after(11), Some(Duration::seconds(1)));
        assert_eq!(account.delay_after(1000), Some(Duration::seconds(30)));
    }

    #[test]
    fn an_ipv6_host_is_counted_by_its_64() {
        assert_eq!(counted_address("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            counted_address("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            "2001:db8:1:2::/64"
        );
        assert_eq!(counted_address("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(counted_address("192.0.2.7"), "192.0.2.7");
        let [_, _, a] = keys("alice", "2001:db8:1:2::1");
        let [_, _, b] = keys("alice", "2001:db8:1:2::2");
        assert_eq!(a.hash, b.hash);
    }

    #[test]
    fn keys_are_hashed_and_labels_truncated() {
        let long = "x".repeat(500);
        let [pair, account, address] = keys(&format!("  {long}  "), "10.0.0.1");
        assert_eq!(account.label.chars().count(), LABEL_USERNAME_CHARS);
        assert!(pair.label.ends_with(" from 10.0.0.1"));
        assert_eq!(address.label, "10.0.0.1");
        assert_ne!(pair.hash, account.hash);
        assert!(!account.hash.as_str().contains('x'));
        let [_, same, _] = keys(&long.to_uppercase(), "10.0.0.2");
        assert_eq!(
            same.hash, account.hash,
            "usernames compare case-insensitively"
        );
    }

    #[test]
    fn an_accounts_counters_are_found_by_their_labels() {
        let [account_address, account, address] = keys("Alice", "192.0.2.1");
        for (key, counts) in [(account_address, true), (account, true), (address, false)] {
            assert_eq!(
                counts_account(key.kind.as_str(), &key.label, " alice"),
                counts,
                "{}",
                key.label
            );
            assert!(!counts_account(key.kind.as_str(), &key.label, "alic"));
        }
    }
}
