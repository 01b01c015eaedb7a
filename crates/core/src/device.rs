//! The device authorization grant (RFC 8628): the vocabulary every side of it shares.
//!
//! A device that can not show a browser (a TV, a CLI on a server) asks `/device_authorization`
//! for a **device code** (a 256-bit secret it keeps and polls `/token` with) and a **user code**
//! (eight letters the user types on `/device` on a phone or laptop). Only hashes of both are
//! stored. The user code is short by design, so it is guarded by its throttle
//! ([`USER_CODE_LIMIT_PER_ADDRESS`], [`user_code_limit`]) and by its life ([`DEVICE_CODE_TTL_SECS`]):
//! with the alphabet of 20 letters there are 20⁸ ≈ 2.6 × 10¹⁰ codes, so one guess hits any of
//! `n` live codes with odds n / 2.6 × 10¹⁰.

use chrono::{DateTime, Duration, Utc};
use rand::{RngCore, rngs::OsRng};

use crate::{
    ClientId, Subject,
    secret::TokenHash,
    sign_in::{Admission, Key, Kind, Limit, count, counted_address, schedule},
    store::{AttemptWaits, StoreError, ThrottleRepo},
};

/// The letters of a user code: no vowels (no words), none that read alike (RFC 8628 §6.1).
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Letters in a user code.
pub const USER_CODE_LEN: usize = 8;
/// How long a device code and its user code live.
pub const DEVICE_CODE_TTL_SECS: i64 = 600;
/// The polling interval a device is first told (RFC 8628 §3.2: 5 s by default).
pub const POLL_INTERVAL_SECS: i32 = 5;
/// What each `slow_down` adds to the interval (RFC 8628 §3.5).
pub const SLOW_DOWN_SECS: i32 = 5;
/// The longest interval `slow_down` grows to.
pub const MAX_POLL_INTERVAL_SECS: i32 = 60;
/// User codes one address may enter within [`USER_CODE_WINDOW`] (an IPv6 address counted as its
/// /64): enough for an office behind one address, a few hundred guesses at most.
pub const USER_CODE_LIMIT_PER_ADDRESS: u32 = 100;
/// The window of the user-code counters.
pub const USER_CODE_WINDOW: Duration = Duration::minutes(10);

/// The per-account limit on entering user codes: five free, then waits doubling from 2 s up to
/// a minute. A signed-in account guessing is slowed down to about 15 guesses in 10 minutes; it
/// is only ever the guesser's own account that waits.
pub fn user_code_limit() -> Limit {
    Limit {
        free: 5,
        first_delay: Duration::seconds(2),
        max_delay: Duration::minutes(1),
    }
}

/// A user code, normalised: eight letters of [`USER_CODE_ALPHABET`].
#[derive(Clone, PartialEq, Eq)]
pub struct UserCode(String);

impl std::fmt::Debug for UserCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserCode(<redacted>)")
    }
}

impl UserCode {
    /// A fresh random code, every letter uniform over the alphabet.
    pub fn generate() -> Self {
        let mut code = String::with_capacity(USER_CODE_LEN);
        let mut byte = [0u8; 1];
        while code.len() < USER_CODE_LEN {
            OsRng.fill_bytes(&mut byte);
            // 240 = 12 × 20: bytes above it are dropped so every letter is equally likely.
            if byte[0] < 240 {
                code.push(char::from(USER_CODE_ALPHABET[usize::from(byte[0] % 20)]));
            }
        }
        Self(code)
    }

    /// Reads a code as a user typed it: any case, with dashes and spaces anywhere.
    pub fn parse(typed: &str) -> Option<Self> {
        if typed.len() > 64 {
            return None;
        }
        let code: String = typed
            .chars()
            .filter(|c| !matches!(c, '-' | ' ' | '\t'))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let valid =
            code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
        valid.then_some(Self(code))
    }

    /// The code as shown to people: `XXXX-XXXX`.
    pub fn display(&self) -> String {
        let (first, second) = self.0.split_at(USER_CODE_LEN / 2);
        format!("{first}-{second}")
    }

    /// What is stored and looked up.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&format!("user_code:{}", self.0))
    }
}

/// Where a device authorization stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    /// Waiting for the user.
    Pending,
    /// The user allowed it; the next poll gets the tokens.
    Approved,
    /// The user denied it.
    Denied,
    /// Its tokens were issued.
    Redeemed,
}

impl DeviceStatus {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Redeemed => "redeemed",
        }
    }

    /// Reads a stored word.
    pub fn parse(value: &str) -> Option<Self> {
        [Self::Pending, Self::Approved, Self::Denied, Self::Redeemed]
            .into_iter()
            .find(|s| s.as_str() == value)
    }
}

/// One device authorization request and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAuthorizationRecord {
    /// SHA-256 of the device code.
    pub device_code_hash: TokenHash,
    /// [`UserCode::hash`] of the user code.
    pub user_code_hash: TokenHash,
    /// The client that asked.
    pub client_id: ClientId,
    /// The scopes asked for (all allowed for the client).
    pub scopes: Vec<String>,
    /// Where it stands.
    pub status: DeviceStatus,
    /// Who allowed it, once allowed.
    pub user_id: Option<Subject>,
    /// When that user signed in.
    pub auth_time: Option<DateTime<Utc>>,
    /// The polling interval now, in seconds.
    pub interval_secs: i32,
    /// The earliest time of the next poll that is not too fast.
    pub next_poll_at: DateTime<Utc>,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
}

impl DeviceAuthorizationRecord {
    /// Whether a poll at `now` comes too soon after the last (a second of leeway for the
    /// network's jitter).
    pub fn polled_too_soon(&self, now: DateTime<Utc>) -> bool {
        now + Duration::seconds(1) < self.next_poll_at
    }
}

/// What the user decided on `/device`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceDecision {
    /// Allowed by `user`, signed in at `auth_time`.
    Approve {
        /// The user.
        user_id: Subject,
        /// When they signed in.
        auth_time: DateTime<Utc>,
    },
    /// Denied.
    Deny,
}

/// Counts one user code entered on `/device` from `address` by the account `user`, or refuses
/// it (for how long): per address a hard limit, per account growing waits. Counted before the
/// code is looked up, so a refused guess learns nothing.
pub async fn admit_user_code(
    repo: &dyn ThrottleRepo,
    address: &str,
    user: &Subject,
    now: DateTime<Utc>,
) -> Result<Admission, StoreError> {
    let counted = counted_address(address);
    let by_address = Key::new(Kind::UserCodeAddress, &counted, counted.clone());
    let per_address = AttemptWaits {
        free: USER_CODE_LIMIT_PER_ADDRESS,
        blocked_until: Vec::new(),
        max_failures: Some(USER_CODE_LIMIT_PER_ADDRESS),
    };
    if let Admission::Refused(wait) =
        count(repo, &by_address, &per_address, USER_CODE_WINDOW, now).await?
    {
        return Ok(Admission::Refused(wait));
    }
    let by_account = Key::new(Kind::UserCodeAccount, user.as_str(), user.to_string());
    let waits = schedule(user_code_limit(), now);
    count(repo, &by_account, &waits, USER_CODE_WINDOW, now).await
}

/// A code that was found: the account's counter starts again (the address's stays: it bounds
/// what one address enters in all).
pub async fn user_code_found(repo: &dyn ThrottleRepo, user: &Subject) -> Result<(), StoreError> {
    let by_account = Key::new(Kind::UserCodeAccount, user.as_str(), user.to_string());
    repo.delete_counter(&by_account.hash).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_are_eight_letters_of_the_alphabet_and_parse_back() {
        for _ in 0..200 {
            let code = UserCode::generate();
            let shown = code.display();
            assert_eq!(shown.len(), 9);
            assert_eq!(&shown[4..5], "-");
            assert_eq!(UserCode::parse(&shown), Some(code.clone()));
            assert!(
                shown
                    .bytes()
                    .all(|b| b == b'-' || USER_CODE_ALPHABET.contains(&b))
            );
        }
    }

    #[test]
    fn typed_codes_are_read_in_any_case_with_dashes_and_spaces() {
        let code = UserCode::parse("BCDF-GHJK").unwrap();
        assert_eq!(UserCode::parse("bcdfghjk"), Some(code.clone()));
        assert_eq!(UserCode::parse(" bcdf ghjk "), Some(code.clone()));
        assert_eq!(UserCode::parse("B-C-D-F-G-H-J-K"), Some(code.clone()));
        assert_eq!(code.display(), "BCDF-GHJK");
        for bad in [
            "",
            "BCDF-GHJ",
            "BCDF-GHJKL",
            "ABCD-EFGH",
            "BCDF-GHJ1",
            "BCDF_GHJK",
            "ВCDF-GHJK",
        ] {
            assert_eq!(UserCode::parse(bad), None, "{bad:?}");
        }
        assert_eq!(UserCode::parse(&"-".repeat(100)), None);
    }

    #[test]
    fn the_hash_is_of_the_normalised_code() {
        let typed = UserCode::parse("bcdf-ghjk").unwrap();
        assert_eq!(typed.hash(), UserCode::parse("BCDFGHJK").unwrap().hash());
        assert_ne!(typed.hash(), TokenHash::of("BCDFGHJK"));
    }

    #[test]
    fn every_letter_is_used() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..500 {
            seen.extend(UserCode::generate().0.into_bytes());
        }
        assert_eq!(seen.len(), 20);
    }

    #[test]
    fn statuses_parse_back() {
        for status in [
            DeviceStatus::Pending,
            DeviceStatus::Approved,
            DeviceStatus::Denied,
            DeviceStatus::Redeemed,
        ] {
            assert_eq!(DeviceStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(DeviceStatus::parse("PENDING"), None);
    }
}
