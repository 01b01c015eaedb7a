//! How many authorization requests one address may leave waiting on the server. Every request
//! that must wait for a sign-in or a consent (`/authorize`), and every request a public client
//! pushes (`/par`), is a row kept for minutes; anyone can send them, so their number is bounded per address (an
//! IPv6 address counted as its /64): at most [`MAX_PER_ADDRESS`] within [`WINDOW`], counted on
//! the throttle counters every instance shares. Past it, that address — and only it — waits
//! for the window to end; a stranger elsewhere can not use it to refuse anyone.

use chrono::{DateTime, Duration, Utc};

use crate::{
    sign_in::{Admission, Key, Kind, count, counted_address},
    store::{AttemptWaits, StoreError, ThrottleRepo},
};

/// Requests one address may leave waiting within [`WINDOW`]: the sign-in throttle's per-address
/// limit (1,000), generous for a busy office behind one address, small next to a flood.
pub const MAX_PER_ADDRESS: u32 = 1000;
/// The window: the life of a waiting request (`tessera_authorization_endpoint`'s
/// `PENDING_TTL`), so the rows an address can have at once are at most [`MAX_PER_ADDRESS`].
pub const WINDOW: Duration = Duration::minutes(10);

/// Counts one waiting request from `address`, or refuses it (for how long).
pub async fn admit(
    repo: &dyn ThrottleRepo,
    address: &str,
    now: DateTime<Utc>,
) -> Result<Admission, StoreError> {
    let counted = counted_address(address);
    let key = Key::new(Kind::PendingAddress, &counted, counted.clone());
    let waits = AttemptWaits {
        free: MAX_PER_ADDRESS,
        blocked_until: Vec::new(),
        max_failures: Some(MAX_PER_ADDRESS),
    };
    count(repo, &key, &waits, WINDOW, now).await
}
