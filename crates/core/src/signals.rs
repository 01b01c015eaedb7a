//! Signals that an account may be in someone else's hands (issue 15, item 5): a sign-in from a
//! device the user has not used before, a sign-in from a different network minutes after
//! another, and a burst of refreshes of one token family. Each becomes an audit event the user
//! sees on `/account` and admins in the console's audit log.
//!
//! A *device* is the browser family and operating system read from the user agent (`Firefox on
//! Linux`) together with the network the request came from — an IPv4 address's /24, an IPv6
//! address's /48 — so a browser update or a new address from the same provider is not news,
//! while a new browser or a new network is. No third-party lookup is made.

use chrono::{DateTime, Duration, Utc};

use crate::secret::TokenHash;

/// The thresholds (`TESSERA_SIGNAL_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalPolicy {
    /// A sign-in from another network within this long of the last one is reported.
    pub address_change_window: Duration,
    /// This many refreshes of one family …
    pub refresh_burst_count: u32,
    /// … within this long are reported (once per window).
    pub refresh_burst_window: Duration,
}

impl Default for SignalPolicy {
    fn default() -> Self {
        Self {
            address_change_window: Duration::minutes(30),
            refresh_burst_count: 30,
            refresh_burst_window: Duration::minutes(1),
        }
    }
}

/// The browser family and operating system of a user agent, for people to read.
pub fn device_label(user_agent: &str) -> String {
    let ua = user_agent.to_ascii_lowercase();
    let browser = if ua.contains("edg/") || ua.contains("edge/") {
        "Edge"
    } else if ua.contains("opr/") || ua.contains("opera") {
        "Opera"
    } else if ua.contains("firefox/") || ua.contains("fxios/") {
        "Firefox"
    } else if ua.contains("chrome/") || ua.contains("chromium/") || ua.contains("crios/") {
        "Chrome"
    } else if ua.contains("safari/") {
        "Safari"
    } else if ua.contains("curl/") {
        "curl"
    } else if ua.is_empty() {
        "an unnamed program"
    } else {
        "another program"
    };
    let os = if ua.contains("android") {
        "Android"
    } else if ua.contains("iphone") || ua.contains("ipad") || ua.contains("ios") {
        "iOS"
    } else if ua.contains("windows") {
        "Windows"
    } else if ua.contains("mac os") || ua.contains("macintosh") {
        "macOS"
    } else if ua.contains("cros") {
        "ChromeOS"
    } else if ua.contains("linux") || ua.contains("x11") {
        "Linux"
    } else {
        return browser.to_owned();
    };
    format!("{browser} on {os}")
}

/// The network an address belongs to: an IPv4 address's /24, an IPv6 address's /48 (an
/// IPv4-mapped IPv6 address as IPv4); anything unparsable as it is.
pub fn network_of(address: &str) -> String {
    match address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => network_of(&v4.to_string()),
            None => {
                let network = u128::from(v6) & (u128::MAX << 80);
                format!("{}/48", std::net::Ipv6Addr::from(network))
            }
        },
        Err(_) => address.to_owned(),
    }
}

/// A device as remembered for a user: what it is, where from, and when it was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownDevice {
    /// SHA-256 of label and network (the row's key with the user).
    pub fingerprint: TokenHash,
    /// `device_label` of its user agent.
    pub label: String,
    /// `network_of` its address.
    pub network: String,
    /// First sign-in from it.
    pub first_seen: DateTime<Utc>,
    /// Latest sign-in from it.
    pub last_seen: DateTime<Utc>,
}

impl KnownDevice {
    /// The device a sign-in comes from.
    pub fn of(user_agent: &str, address: &str, now: DateTime<Utc>) -> Self {
        let (label, network) = (device_label(user_agent), network_of(address));
        Self {
            fingerprint: TokenHash::of(&format!("{label}\u{0}{network}")),
            label,
            network,
            first_seen: now,
            last_seen: now,
        }
    }
}

/// What a sign-in from `device` tells, given the user's devices before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInSignals {
    /// Never seen before (and the user had signed in before: a first sign-in is not news).
    pub new_device: bool,
    /// The network of the sign-in shortly before this one, when it was another network.
    pub network_changed_from: Option<String>,
}

/// The signals of a sign-in from `device` at `now`, given the user's `known` devices.
pub fn sign_in_signals(
    known: &[KnownDevice],
    device: &KnownDevice,
    now: DateTime<Utc>,
    policy: &SignalPolicy,
) -> SignInSignals {
    let new_device = !known.is_empty() && known.iter().all(|d| d.fingerprint != device.fingerprint);
    let latest = known.iter().max_by_key(|d| d.last_seen);
    let network_changed_from = latest
        .filter(|d| {
            d.network != device.network && now - d.last_seen <= policy.address_change_window
        })
        .map(|d| d.network.clone());
    SignInSignals {
        new_device,
        network_changed_from,
    }
}

/// Families watched at once per instance; beyond, those whose window ended are forgotten (and,
/// if that is not enough, all): the watch is bounded whatever the traffic.
pub const MAX_WATCHED_FAMILIES: usize = 10_000;

/// Counts refreshes per token family on this instance and says when one reaches the burst
/// threshold (once per window). Per instance: with several instances each sees its share, so a
/// burst spread evenly over `n` instances is reported at `n` times the threshold — a signal, not
/// a limit.
#[derive(Debug, Default)]
pub struct BurstWatch {
    families: std::sync::Mutex<std::collections::HashMap<String, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: DateTime<Utc>,
    count: u32,
    reported: bool,
}

impl BurstWatch {
    /// Counts a refresh of `family` at `now`; true exactly when it makes a burst.
    pub fn refreshed(&self, family: &str, now: DateTime<Utc>, policy: &SignalPolicy) -> bool {
        let mut families = self
            .families
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if families.len() >= MAX_WATCHED_FAMILIES && !families.contains_key(family) {
            families.retain(|_, w| now - w.started < policy.refresh_burst_window);
            if families.len() >= MAX_WATCHED_FAMILIES {
                families.clear();
            }
        }
        let window = families.entry(family.to_owned()).or_insert(Window {
            started: now,
            count: 0,
            reported: false,
        });
        if now - window.started >= policy.refresh_burst_window {
            *window = Window {
                started: now,
                count: 0,
                reported: false,
            };
        }
        window.count = window.count.saturating_add(1);
        let burst = window.count >= policy.refresh_burst_count && !window.reported;
        window.reported |= burst;
        burst
    }

    /// Families being watched (for tests and metrics).
    pub fn watched(&self) -> usize {
        self.families
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    const CHROME_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    const SAFARI_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";
    const EDGE_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0";

    #[test]
    fn devices_are_named_by_browser_family_and_system() {
        assert_eq!(device_label(FIREFOX), "Firefox on Linux");
        assert_eq!(device_label(CHROME_MAC), "Chrome on macOS");
        assert_eq!(device_label(SAFARI_IOS), "Safari on iOS");
        assert_eq!(device_label(EDGE_WIN), "Edge on Windows");
        assert_eq!(device_label("curl/8.5.0"), "curl");
        assert_eq!(device_label(""), "an unnamed program");
    }

    #[test]
    fn networks_are_a_24_or_a_48() {
        assert_eq!(network_of("203.0.113.77"), "203.0.113.0/24");
        assert_eq!(network_of("::ffff:203.0.113.77"), "203.0.113.0/24");
        assert_eq!(network_of("2001:db8:1234:5678::1"), "2001:db8:1234::/48");
        assert_eq!(network_of("not an address"), "not an address");
    }

    #[test]
    fn a_new_device_and_a_quick_change_of_network_are_signals() {
        let policy = SignalPolicy::default();
        let t = DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        let home = KnownDevice::of(FIREFOX, "203.0.113.7", t);
        // A first sign-in ever is no news.
        let first = sign_in_signals(&[], &home, t, &policy);
        assert_eq!(
            (first.new_device, first.network_changed_from),
            (false, None)
        );
        // Same browser, same network, another address in it: known.
        let again = KnownDevice::of(FIREFOX, "203.0.113.9", t + Duration::hours(5));
        let known = [home.clone()];
        let same = sign_in_signals(&known, &again, again.last_seen, &policy);
        assert_eq!((same.new_device, same.network_changed_from), (false, None));
        // Another browser on another network ten minutes later: both signals.
        let later = t + Duration::minutes(10);
        let phone = KnownDevice::of(SAFARI_IOS, "198.51.100.20", later);
        let both = sign_in_signals(&known, &phone, later, &policy);
        assert!(both.new_device);
        assert_eq!(both.network_changed_from.as_deref(), Some("203.0.113.0/24"));
        // A day later the change of network is ordinary.
        let next_day = t + Duration::days(1);
        let calm = sign_in_signals(
            &known,
            &KnownDevice::of(FIREFOX, "198.51.100.20", next_day),
            next_day,
            &policy,
        );
        assert_eq!(calm.network_changed_from, None);
        assert!(
            calm.new_device,
            "same browser, new network: a device not seen before"
        );
    }

    #[test]
    fn a_burst_is_reported_once_per_window_and_the_watch_stays_bounded() {
        let policy = SignalPolicy {
            refresh_burst_count: 3,
            refresh_burst_window: Duration::seconds(60),
            ..SignalPolicy::default()
        };
        let t = DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        let watch = BurstWatch::default();
        let seen: Vec<bool> = (0..5)
            .map(|i| watch.refreshed("g1", t + Duration::seconds(i), &policy))
            .collect();
        assert_eq!(seen, [false, false, true, false, false], "once");
        // Slow refreshes of another family never make one.
        for i in 0..5 {
            assert!(!watch.refreshed("g2", t + Duration::seconds(i * 61), &policy));
        }
        // A new window may report again.
        let later = t + Duration::seconds(120);
        let again: Vec<bool> = (0..3)
            .map(|i| watch.refreshed("g1", later + Duration::seconds(i), &policy))
            .collect();
        assert_eq!(again, [false, false, true]);
        for i in 0..(MAX_WATCHED_FAMILIES + 10) {
            watch.refreshed(&format!("flood-{i}"), later, &policy);
        }
        assert!(watch.watched() <= MAX_WATCHED_FAMILIES);
    }
}
