//! Sign-in throttle counters as an admin sees them: listed by an id (the start of the key's
//! hash), cleared one at a time or all at once.

use chrono::{DateTime, Utc};
use tessera_core::store::{StoreError, ThrottleCounterRecord, ThrottleRepo};

/// The most counters listed or cleared at once.
pub const LISTED: u64 = 10_000;
/// The shortest prefix of a counter's id that names it.
pub const MIN_ID_CHARS: usize = 12;
/// The length of the id shown in lists.
pub const ID_CHARS: usize = 16;

/// Why clearing was refused.
#[derive(Debug, thiserror::Error)]
pub enum LockOpError {
    /// An id shorter than [`MIN_ID_CHARS`].
    #[error("give an id of at least {MIN_ID_CHARS} characters from the list, or clear all")]
    IdTooShort,
    /// No counter matches.
    #[error("no counter matches")]
    NotFound,
    /// Several counters start with this id.
    #[error("the id matches {0} counters; give more of it")]
    Ambiguous(usize),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The id a counter is listed and cleared by.
pub fn id_of(counter: &ThrottleCounterRecord) -> &str {
    let hash = counter.key_hash.as_str();
    hash.get(..ID_CHARS).unwrap_or(hash)
}

/// Counters whose window has not ended, refused ones first.
pub async fn list(
    repo: &dyn ThrottleRepo,
    now: DateTime<Utc>,
) -> Result<Vec<ThrottleCounterRecord>, LockOpError> {
    Ok(repo.list_counters(now, LISTED).await?)
}

/// What to clear.
#[derive(Debug, Clone, Copy)]
pub enum Which<'a> {
    /// The one counter whose id starts with this (at least [`MIN_ID_CHARS`]).
    Id(&'a str),
    /// Every counter.
    All,
    /// The counters of this user's account (`tessera_core::sign_in::counts_account`): the
    /// account's own and its per-address ones. None is no error.
    Account(&'a str),
}

/// Clears counters; how many. The next attempt they counted is not slowed down.
pub async fn clear(
    repo: &dyn ThrottleRepo,
    which: Which<'_>,
    now: DateTime<Utc>,
) -> Result<usize, LockOpError> {
    if let Which::Id(id) = which
        && id.len() < MIN_ID_CHARS
    {
        return Err(LockOpError::IdTooShort);
    }
    // A whole id (the console's) names its counter: no need to list them all.
    if let Which::Id(id) = which
        && id.len() == 64
    {
        let key = tessera_core::secret::TokenHash::from_stored(id.to_owned());
        return match repo.delete_counter(&key).await? {
            true => Ok(1),
            false => Err(LockOpError::NotFound),
        };
    }
    let counters = match which {
        Which::Account(username) => {
            let label = tessera_core::sign_in::account_label(username);
            repo.account_counters(&label, now).await?
        }
        _ => list(repo, now).await?,
    };
    let chosen: Vec<_> = match which {
        Which::All => counters.iter().collect(),
        Which::Id(id) => counters
            .iter()
            .filter(|c| c.key_hash.as_str().starts_with(id))
            .collect(),
        Which::Account(username) => counters
            .iter()
            .filter(|c| tessera_core::sign_in::counts_account(&c.kind, &c.label, username))
            .collect(),
    };
    match (which, chosen.len()) {
        (Which::Account(_), 0) => return Ok(0),
        (_, 0) => return Err(LockOpError::NotFound),
        (Which::Id(_), n) if n > 1 => return Err(LockOpError::Ambiguous(n)),
        _ => {}
    }
    for counter in &chosen {
        repo.delete_counter(&counter.key_hash).await?;
    }
    Ok(chosen.len())
}
