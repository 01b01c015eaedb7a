//! `/admin`: the console's first page. Headline figures (users, clients, who is signed in,
//! sign-ins and tokens in the last 24 hours, sign-in locks now), the signing keys and what
//! rotates next, and four charts drawn on the server as SVG (no JavaScript): sign-ins and token
//! responses by grant, per hour over the last 24 hours and per day over the last seven. The
//! counts come from `activity_counts` (`tessera_web::activity`: each instance adds what it
//! counted about once a minute, so the last minute may not show yet).

use std::fmt::Write as _;

use actix_web::{HttpResponse, http::StatusCode, web};
use askama::Template;
use chrono::{DateTime, TimeDelta, Utc};
use tessera_core::store::ActivityCount;
use tessera_web::{PageError, activity::Series};

use crate::{AdminPage, AdminState, html};

/// The sign-in series, in the order they are stacked.
const SIGN_INS: [(Series, &str); 3] = [
    (Series::SignIn, "Signed in"),
    (Series::SignInFailed, "Failed"),
    (Series::SignInRefused, "Refused (throttled)"),
];

/// The token series, in the order they are stacked.
const TOKENS: [(Series, &str); 5] = [
    (Series::AuthorizationCode, "authorization_code"),
    (Series::RefreshToken, "refresh_token"),
    (Series::ClientCredentials, "client_credentials"),
    (Series::DeviceCode, "device_code"),
    (Series::JwtBearer, "jwt-bearer"),
];

/// A stacked bar chart: one bar per bucket, one stacked part per series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chart {
    /// Bucket labels (`14:00`, `Mon 7`).
    pub labels: Vec<String>,
    /// `values[bucket][series]`.
    pub values: Vec<Vec<u64>>,
    /// The series' names, in stacking order.
    pub series: Vec<&'static str>,
}

impl Chart {
    /// Buckets of `width` from `start`, `count` of them, summing `rows` of `series`.
    fn of(
        rows: &[ActivityCount],
        start: DateTime<Utc>,
        width: TimeDelta,
        count: usize,
        series: &[(Series, &'static str)],
        label: impl Fn(DateTime<Utc>) -> String,
    ) -> Self {
        let mut values = vec![vec![0_u64; series.len()]; count];
        for row in rows {
            let Some(column) = series.iter().position(|(s, _)| s.name() == row.series) else {
                continue;
            };
            let offset = row.hour - start;
            if offset < TimeDelta::zero() {
                continue;
            }
            let Ok(bucket) = usize::try_from(offset.num_seconds() / width.num_seconds()) else {
                continue;
            };
            if let Some(bucket) = values.get_mut(bucket) {
                bucket[column] += u64::try_from(row.count).unwrap_or(0);
            }
        }
        let labels = (0..count)
            .map(|i| label(start + width * i32::try_from(i).unwrap_or(0)))
            .collect();
        Self {
            labels,
            values,
            series: series.iter().map(|(_, name)| *name).collect(),
        }
    }

    /// Each series' total over every bucket.
    pub fn totals(&self) -> Vec<u64> {
        (0..self.series.len())
            .map(|s| self.values.iter().map(|b| b[s]).sum())
            .collect()
    }

    /// The chart as an SVG element (every text in it is ours: numbers, times, series names).
    pub fn svg(&self, title: &str) -> String {
        const WIDTH: usize = 480;
        const HEIGHT: usize = 170;
        const LEFT: usize = 34;
        const BOTTOM: usize = 18;
        const TOP: usize = 8;
        let plot_height = HEIGHT - BOTTOM - TOP;
        let max = self
            .values
            .iter()
            .map(|b| b.iter().sum::<u64>())
            .max()
            .unwrap_or(0)
            .max(1);
        let slot = (WIDTH - LEFT) as f64 / self.values.len().max(1) as f64;
        let bar = (slot * 0.7).max(1.0);
        let totals = self.totals();
        let summary: Vec<String> = self
            .series
            .iter()
            .zip(&totals)
            .map(|(name, total)| format!("{name} {total}"))
            .collect();
        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}: {}" xmlns="http://www.w3.org/2000/svg">"#,
            summary.join(", ")
        );
        let base = TOP + plot_height;
        let _ = write!(
            svg,
            r#"<line class="axis" x1="{LEFT}" y1="{base}" x2="{WIDTH}" y2="{base}"/><line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base}"/>"#
        );
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end">{max}</text><text x="{}" y="{base}" text-anchor="end">0</text>"#,
            LEFT - 4,
            TOP + 8,
            LEFT - 4
        );
        let every = (self.values.len() / 6).max(1);
        for (i, (bucket, label)) in self.values.iter().zip(&self.labels).enumerate() {
            let x = LEFT as f64 + slot * i as f64 + (slot - bar) / 2.0;
            let mut y = base as f64;
            for (s, value) in bucket.iter().enumerate() {
                if *value == 0 {
                    continue;
                }
                let h = *value as f64 / max as f64 * plot_height as f64;
                y -= h;
                let _ = write!(
                    svg,
                    r#"<rect class="bar s{s}" x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}"><title>{label}: {} {value}</title></rect>"#,
                    self.series[s]
                );
            }
            if i % every == 0 {
                let _ = write!(
                    svg,
                    r#"<text x="{:.1}" y="{}" text-anchor="middle">{label}</text>"#,
                    x + bar / 2.0,
                    HEIGHT - 4
                );
            }
        }
        svg.push_str("</svg>");
        svg
    }
}

/// One chart on the page, with its legend.
pub(crate) struct ChartView {
    id: &'static str,
    title: &'static str,
    svg: String,
    legend: Vec<(&'static str, u64)>,
}

impl ChartView {
    fn new(id: &'static str, title: &'static str, chart: &Chart) -> Self {
        Self {
            id,
            title,
            svg: chart.svg(title),
            legend: chart.series.iter().copied().zip(chart.totals()).collect(),
        }
    }
}

/// A signing key as the dashboard names it.
pub(crate) struct KeyLine {
    kid: String,
    alg: &'static str,
    state: &'static str,
    when: String,
}

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage<'a> {
    csrf_token: &'a str,
    admin_name: &'a str,
    notice: Option<&'a str>,
    users: u64,
    clients: u64,
    sessions: u64,
    sign_ins: u64,
    failed: u64,
    tokens: u64,
    locked: u64,
    keys: Vec<KeyLine>,
    next_rotation: Option<String>,
    charts: Vec<ChartView>,
}

/// `GET /admin`.
pub(crate) async fn get_dashboard(
    AdminPage(admin): AdminPage,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let now = state.clock.now();
    let this_hour = tessera_web::activity::hour_of(now);
    let day_start = this_hour - TimeDelta::hours(23);
    let week_start = tessera_web::activity::day_of(now) - TimeDelta::days(6);
    let rows = state.activity.activity_since(week_start).await?;
    let totals = state.activity.totals(now).await?;
    let locked = state.throttle.count_blocked(now).await?;
    let hourly = |series: &[(Series, &'static str)]| {
        Chart::of(&rows, day_start, TimeDelta::hours(1), 24, series, |t| {
            t.format("%H:00").to_string()
        })
    };
    let daily = |series: &[(Series, &'static str)]| {
        Chart::of(&rows, week_start, TimeDelta::days(1), 7, series, |t| {
            t.format("%a %-d").to_string()
        })
    };
    let sign_ins_day = hourly(&SIGN_INS);
    let tokens_day = hourly(&TOKENS);
    let sign_in_totals = sign_ins_day.totals();
    let ring = state.keys.ring();
    let mut keys = Vec::new();
    let mut next_rotation = None;
    for key in ring.keys() {
        let entry = key.entry();
        let key_state = entry.state(now);
        let when = match key_state {
            tessera_keys::KeyState::Next => {
                let at = entry.activates_at.format("%Y-%m-%d %H:%M UTC").to_string();
                next_rotation = Some(format!(
                    "{} ({}) signs from {at}",
                    entry.kid,
                    entry.alg.as_str()
                ));
                format!("signs from {at}")
            }
            tessera_keys::KeyState::Active => {
                format!("since {}", entry.activates_at.format("%Y-%m-%d"))
            }
            _ => continue,
        };
        keys.push(KeyLine {
            kid: entry.kid.to_string(),
            alg: entry.alg.as_str(),
            state: key_state.as_str(),
            when,
        });
    }
    let page = DashboardPage {
        csrf_token: &admin.csrf,
        admin_name: &admin.user.username,
        notice: None,
        users: totals.users,
        clients: totals.clients,
        sessions: totals.sessions,
        sign_ins: sign_in_totals.first().copied().unwrap_or(0),
        failed: sign_in_totals.get(1).copied().unwrap_or(0),
        tokens: tokens_day.totals().iter().sum(),
        locked,
        keys,
        next_rotation,
        charts: vec![
            ChartView::new("sign-ins-24h", "Sign-ins, last 24 hours", &sign_ins_day),
            ChartView::new("tokens-24h", "Tokens by grant, last 24 hours", &tokens_day),
            ChartView::new("sign-ins-7d", "Sign-ins, last 7 days", &daily(&SIGN_INS)),
            ChartView::new("tokens-7d", "Tokens by grant, last 7 days", &daily(&TOKENS)),
        ],
    };
    Ok(html(StatusCode::OK, page.render()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn row(hour: &str, series: Series, count: i64) -> ActivityCount {
        ActivityCount {
            hour: at(hour),
            series: series.name().into(),
            count,
        }
    }

    #[test]
    fn counts_land_in_their_bucket_and_series_and_nothing_outside_is_drawn() {
        let rows = vec![
            row("2026-12-07T10:00:00Z", Series::SignIn, 3),
            row("2026-12-07T10:00:00Z", Series::SignInFailed, 2),
            row("2026-12-07T12:00:00Z", Series::SignIn, 1),
            // Before the chart, after it, another series: not drawn.
            row("2026-12-07T08:00:00Z", Series::SignIn, 50),
            row("2026-12-07T14:00:00Z", Series::SignIn, 50),
            row("2026-12-07T11:00:00Z", Series::ClientCredentials, 9),
        ];
        let chart = Chart::of(
            &rows,
            at("2026-12-07T10:00:00Z"),
            TimeDelta::hours(1),
            4,
            &SIGN_INS,
            |t| t.format("%H:00").to_string(),
        );
        assert_eq!(chart.labels, ["10:00", "11:00", "12:00", "13:00"]);
        assert_eq!(
            chart.values,
            vec![vec![3, 2, 0], vec![0, 0, 0], vec![1, 0, 0], vec![0, 0, 0]]
        );
        assert_eq!(chart.totals(), vec![4, 2, 0]);
        let svg = chart.svg("Sign-ins");
        // One rect per non-zero part; the tallest bar (3 + 2) fills the plot's 144 units.
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(
            svg.contains(r#"y="65.6" width="78.0" height="86.4""#),
            "{svg}"
        );
        assert!(
            svg.contains(r#"y="8.0" width="78.0" height="57.6""#),
            "{svg}"
        );
        assert!(
            svg.contains(r#"aria-label="Sign-ins: Signed in 4, Failed 2, Refused (throttled) 0""#)
        );
        assert!(svg.contains("<title>10:00: Failed 2</title>"));
    }

    #[test]
    fn days_sum_their_hours() {
        let rows = vec![
            row("2026-12-01T00:00:00Z", Series::RefreshToken, 2),
            row("2026-12-01T23:00:00Z", Series::RefreshToken, 3),
            row("2026-12-07T09:00:00Z", Series::ClientCredentials, 7),
        ];
        let chart = Chart::of(
            &rows,
            at("2026-12-01T00:00:00Z"),
            TimeDelta::days(1),
            7,
            &TOKENS,
            |t| t.format("%a %-d").to_string(),
        );
        assert_eq!(chart.labels.first().map(String::as_str), Some("Tue 1"));
        assert_eq!(chart.values[0], vec![0, 5, 0, 0, 0]);
        assert_eq!(chart.values[6], vec![0, 0, 7, 0, 0]);
    }
}
