//! What the console's dashboard charts: sign-ins (succeeded, failed, refused while throttled)
//! and token responses by grant, counted per instance in memory — an atomic add, no write on the
//! request's path — and added to the hour's row of `activity_counts` about once a minute
//! ([`Activity::flush`], run by the server). A flush that fails keeps its counts for the next.
//!
//! Sign-ins are counted where their audit events are recorded ([`crate::audit::record`] and
//! [`crate::audit::record_sampled`], before sampling, so a flood of failures is counted in full
//! though written once a minute); token responses by the token endpoint's success counter.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use tessera_core::{
    AuditKind,
    grant_type::GrantType,
    store::{ActivityRepo, StoreError},
};

/// One line of a dashboard chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Series {
    /// A completed sign-in (every step given).
    SignIn,
    /// A password, code or passkey that was wrong.
    SignInFailed,
    /// An attempt refused while the account or address was slowed down.
    SignInRefused,
    /// `/token` with `authorization_code`.
    AuthorizationCode,
    /// `/token` with `refresh_token`.
    RefreshToken,
    /// `/token` with `client_credentials`.
    ClientCredentials,
    /// `/token` with the device code (RFC 8628).
    DeviceCode,
    /// `/token` with a JWT bearer assertion (RFC 7523).
    JwtBearer,
}

impl Series {
    /// Every series, in the order the counters are kept.
    pub const ALL: [Self; 8] = [
        Self::SignIn,
        Self::SignInFailed,
        Self::SignInRefused,
        Self::AuthorizationCode,
        Self::RefreshToken,
        Self::ClientCredentials,
        Self::DeviceCode,
        Self::JwtBearer,
    ];

    /// The series' name in `activity_counts`.
    pub fn name(self) -> &'static str {
        match self {
            Self::SignIn => "sign_in",
            Self::SignInFailed => "sign_in.failed",
            Self::SignInRefused => "sign_in.refused",
            Self::AuthorizationCode => "token.authorization_code",
            Self::RefreshToken => "token.refresh_token",
            Self::ClientCredentials => "token.client_credentials",
            Self::DeviceCode => "token.device_code",
            Self::JwtBearer => "token.jwt_bearer",
        }
    }

    /// The series named `name` in `activity_counts`.
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The series of a token response for `grant`.
    pub fn for_grant(grant: GrantType) -> Self {
        match grant {
            GrantType::AuthorizationCode => Self::AuthorizationCode,
            GrantType::RefreshToken => Self::RefreshToken,
            GrantType::ClientCredentials => Self::ClientCredentials,
            GrantType::DeviceCode => Self::DeviceCode,
            GrantType::JwtBearer => Self::JwtBearer,
        }
    }

    /// The series an audit event of `kind` counts in, if any.
    pub fn for_audit(kind: AuditKind) -> Option<Self> {
        match kind {
            AuditKind::LoginSucceeded => Some(Self::SignIn),
            AuditKind::LoginFailed => Some(Self::SignInFailed),
            AuditKind::LoginThrottled => Some(Self::SignInRefused),
            _ => None,
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }
}

/// This instance's counts since the last flush.
#[derive(Debug, Default)]
pub struct Activity {
    counts: [AtomicU64; Series::ALL.len()],
}

/// The start of the hour `at` falls in.
pub fn hour_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::hours(1)).unwrap_or(at)
}

/// The start of the day (UTC) `at` falls in.
pub fn day_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::days(1)).unwrap_or(at)
}

impl Activity {
    /// Counts one of `series`.
    pub fn count(&self, series: Series) {
        self.counts[series.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// What was counted since the last call (each count taken once), non-zero series only.
    fn take(&self) -> Vec<(Series, u64)> {
        Series::ALL
            .into_iter()
            .map(|s| (s, self.counts[s.index()].swap(0, Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// What was counted since the last flush, without taking it.
    pub fn pending(&self, series: Series) -> u64 {
        self.counts[series.index()].load(Ordering::Relaxed)
    }

    /// Adds what was counted to the hour of `now`; on failure the counts are kept for the next
    /// flush.
    pub async fn flush(
        &self,
        repo: &dyn ActivityRepo,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let taken = self.take();
        if taken.is_empty() {
            return Ok(());
        }
        let counts: Vec<(&str, u64)> = taken.iter().map(|(s, n)| (s.name(), *n)).collect();
        let added = repo.add_activity(hour_of(now), &counts).await;
        if added.is_err() {
            for (series, n) in taken {
                self.counts[series.index()].fetch_add(n, Ordering::Relaxed);
            }
        }
        added
    }
}

/// Counts an audit event of `kind` for the request's instance, when the app keeps [`Activity`].
pub(crate) fn count_audit(req: &actix_web::HttpRequest, kind: AuditKind) {
    if let Some(series) = Series::for_audit(kind)
        && let Some(activity) = req.app_data::<actix_web::web::Data<Activity>>()
    {
        activity.count(series);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_has_its_own_name() {
        for series in Series::ALL {
            assert_eq!(Series::named(series.name()), Some(series));
        }
        let grants: std::collections::HashSet<_> =
            GrantType::ALL.into_iter().map(Series::for_grant).collect();
        assert_eq!(grants.len(), GrantType::ALL.len());
    }

    #[test]
    fn counts_are_taken_once_and_hours_start_on_the_hour() {
        let activity = Activity::default();
        activity.count(Series::SignIn);
        activity.count(Series::SignIn);
        activity.count(Series::RefreshToken);
        let mut taken = activity.take();
        taken.sort_by_key(|(s, _)| s.name());
        assert_eq!(taken, vec![(Series::SignIn, 2), (Series::RefreshToken, 1)]);
        assert!(activity.take().is_empty());
        let at = DateTime::parse_from_rfc3339("2026-12-07T14:43:57.5Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(hour_of(at).to_rfc3339(), "2026-12-07T14:00:00+00:00");
    }
}
