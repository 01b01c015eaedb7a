//! Fetching a client's (or a trusted issuer's) `jwks_uri`: bounded (timeout, size, no redirects,
//! https only), cached, and re-fetched at most once per cool-down when a `kid` is not found (key
//! rotation on the other side), so an attacker can not turn Tessera into a request amplifier.
//!
//! Server-side request forgery: a registered `jwks_uri` is chosen by whoever registers the client,
//! so the host must resolve to public addresses only — no loopback, private, link-local, CGNAT,
//! multicast or reserved ranges (cloud metadata endpoints live there). The connection goes to the
//! address that was checked (the name is pinned for the request), so a DNS answer that changes
//! between the check and the connection (rebinding) does not get through. Proxy environment
//! variables are ignored (a proxy would make the check meaningless).
//!
//! Many concurrent requests for one URI make one fetch (the others wait for it), and a failed
//! fetch is remembered for [`FAILURE_TTL`], so a burst of assertions naming an unreachable
//! `jwks_uri` does not become a burst of outbound connections.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    sync::Mutex,
    time::Duration,
};

use chrono::{DateTime, Utc};
use tessera_core::{Clock, clock::SystemClock};

/// How long a fetched JWK Set is used before it is fetched again.
pub const CACHE_TTL: Duration = Duration::from_secs(300);
/// The least time between two fetches of one URI.
pub const REFETCH_COOLDOWN: Duration = Duration::from_secs(30);
/// Largest JWK Set accepted.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// Longest a fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a failed fetch is answered from memory before it is tried again.
pub const FAILURE_TTL: Duration = Duration::from_secs(10);
/// URIs remembered (fetched sets, failures, in-flight locks) before the memory is emptied.
const MAX_URIS: usize = 1000;

/// A cache of fetched JWK Sets.
#[derive(Debug)]
pub struct JwksFetcher {
    http: reqwest::Client,
    /// Tests fetch from a loopback server; production refuses non-public addresses.
    local_allowed: bool,
    cache: Mutex<HashMap<String, (DateTime<Utc>, serde_json::Value)>>,
    failures: Mutex<HashMap<String, (DateTime<Utc>, String)>>,
    in_flight: Mutex<HashMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>,
    cooldown: Duration,
    /// The cache's, the failures' and the cool-down's time (the server's clock; a fake one in
    /// tests).
    clock: Arc<dyn Clock>,
}

/// Inserts into a bounded map: emptied first when full.
fn bounded_insert<V>(map: &Mutex<HashMap<String, V>>, key: &str, value: V) {
    let mut map = map.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if map.len() >= MAX_URIS && !map.contains_key(key) {
        map.clear();
    }
    map.insert(key.to_owned(), value);
}

/// Why a JWK Set could not be had.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Transport, status, size or format.
    #[error("cannot fetch jwks_uri {uri}: {reason}")]
    Failed {
        /// The URI.
        uri: String,
        /// Why.
        reason: String,
    },
}

impl JwksFetcher {
    /// A fetcher. `allow_http` admits plain-http URIs and loopback/private targets (tests
    /// against a loopback server only).
    pub fn new(allow_http: bool) -> Self {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .https_only(!allow_http)
            .no_proxy()
            .build()
            .unwrap_or_default();
        Self {
            http,
            local_allowed: allow_http,
            cache: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
            cooldown: REFETCH_COOLDOWN,
            clock: Arc::new(SystemClock),
        }
    }

    /// The same fetcher on another clock (the server's, which tests replace with a fake one).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How long ago `at` was, on this fetcher's clock (never negative).
    fn since(&self, at: DateTime<Utc>) -> Duration {
        (self.clock.now() - at).to_std().unwrap_or(Duration::ZERO)
    }

    /// The same fetcher with another re-fetch cool-down.
    pub fn with_cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The JWK Set at `uri`: cached unless `refresh` asks for a new copy and the cool-down allows.
    pub async fn get(&self, uri: &str, refresh: bool) -> Result<serde_json::Value, FetchError> {
        if let Some(answer) = self.remembered(uri, refresh) {
            return answer;
        }
        // One fetch per URI at a time: the others wait, then find its result remembered.
        let lock = {
            let mut in_flight = self
                .in_flight
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if in_flight.len() >= MAX_URIS && !in_flight.contains_key(uri) {
                in_flight.retain(|_, lock| std::sync::Arc::strong_count(lock) > 1);
            }
            std::sync::Arc::clone(in_flight.entry(uri.to_owned()).or_default())
        };
        let _turn = lock.lock().await;
        if let Some(answer) = self.remembered(uri, refresh) {
            return answer;
        }
        match self.fetch(uri).await {
            Ok(jwks) => {
                bounded_insert(&self.cache, uri, (self.clock.now(), jwks.clone()));
                self.failures
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .remove(uri);
                Ok(jwks)
            }
            Err(err) => {
                let FetchError::Failed { reason, .. } = &err;
                bounded_insert(&self.failures, uri, (self.clock.now(), reason.clone()));
                Err(err)
            }
        }
    }

    /// An answer from memory: a fresh enough set, or a recent failure.
    fn remembered(
        &self,
        uri: &str,
        refresh: bool,
    ) -> Option<Result<serde_json::Value, FetchError>> {
        if let Some((failed_at, reason)) = self
            .failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(uri)
            .cloned()
            && self.since(failed_at) < FAILURE_TTL
        {
            return Some(Err(FetchError::Failed {
                uri: uri.to_owned(),
                reason: format!("{reason} (failed moments ago; not retried yet)"),
            }));
        }
        let (fetched, jwks) = self.cached(uri)?;
        let age = self.since(fetched);
        (age < CACHE_TTL && (!refresh || age < self.cooldown)).then_some(Ok(jwks))
    }

    fn cached(&self, uri: &str) -> Option<(DateTime<Utc>, serde_json::Value)> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(uri)
            .cloned()
    }

    async fn fetch(&self, uri: &str) -> Result<serde_json::Value, FetchError> {
        let failed = |reason: String| FetchError::Failed {
            uri: uri.to_owned(),
            reason,
        };
        let http = if self.local_allowed {
            self.http.clone()
        } else {
            self.pinned_client(uri).await.map_err(failed)?
        };
        let mut response = http
            .get(uri)
            .send()
            .await
            .map_err(|e| failed(e.to_string()))?;
        if !response.status().is_success() {
            return Err(failed(format!("status {}", response.status())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| failed(e.to_string()))? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(failed(format!("larger than {MAX_JWKS_BYTES} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        let jwks: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| failed(e.to_string()))?;
        if !jwks.get("keys").is_some_and(serde_json::Value::is_array) {
            return Err(failed("not a JWK Set".into()));
        }
        Ok(jwks)
    }

    /// Resolves the URI's host, refuses it unless every address is public, and returns a client
    /// that connects to the checked address only.
    async fn pinned_client(&self, uri: &str) -> Result<reqwest::Client, String> {
        let url = url::Url::parse(uri).map_err(|e| e.to_string())?;
        let host = url.host_str().ok_or("no host")?.to_owned();
        let port = url.port_or_known_default().unwrap_or(443);
        let addresses: Vec<SocketAddr> = match host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((host.as_str(), port))
                .await
                .map_err(|e| format!("cannot resolve {host}: {e}"))?
                .collect(),
        };
        let Some(first) = addresses.first().copied() else {
            return Err(format!("{host} has no address"));
        };
        if let Some(bad) = addresses.iter().find(|a| !is_public(a.ip())) {
            return Err(format!(
                "{host} resolves to a non-public address ({})",
                bad.ip()
            ));
        }
        reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .https_only(true)
            .no_proxy()
            .resolve(&host, first)
            .build()
            .map_err(|e| e.to_string())
    }
}

/// Whether `ip` is an address on the public internet (not loopback, private, link-local, shared
/// (CGNAT), multicast, documentation, benchmarking, reserved or unspecified).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let first = segments[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // ::/96, IPv4-compatible (deprecated; embeds any IPv4 address)
        || segments[..6].iter().all(|s| *s == 0)
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        // fec0::/10, site-local (deprecated, still routed inside some networks)
        || (first & 0xffc0) == 0xfec0
        || (first == 0x2001 && segments[1] == 0x0db8)
        // 64:ff9b::/96 and 64:ff9b:1::/48, NAT64 (well-known and local-use)
        || first == 0x0064 && segments[1] == 0xff9b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loopback server answering every request with `status` and `body` after a pause;
    /// returns its URL and a counter of the requests it got.
    async fn server(
        status: u16,
        body: &'static str,
    ) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = std::sync::Arc::clone(&hits);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let counted = std::sync::Arc::clone(&counted);
                tokio::spawn(async move {
                    let mut buffer = [0u8; 4096];
                    let _ = stream.read(&mut buffer).await;
                    counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(150)).await;
                    let response = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                });
            }
        });
        (url, hits)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_share_one_fetch_and_failures_are_remembered_briefly() {
        let fetcher = std::sync::Arc::new(JwksFetcher::new(true));
        let (url, hits) = server(200, r#"{"keys":[]}"#).await;
        let gets = (0..20).map(|_| {
            let (fetcher, url) = (std::sync::Arc::clone(&fetcher), url.clone());
            tokio::spawn(async move { fetcher.get(&url, false).await.is_ok() })
        });
        for get in gets.collect::<Vec<_>>() {
            assert!(get.await.unwrap());
        }
        assert_eq!(
            hits.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "one fetch for 20"
        );

        let (broken, broken_hits) = server(500, "no").await;
        assert!(fetcher.get(&broken, false).await.is_err());
        for _ in 0..5 {
            assert!(fetcher.get(&broken, true).await.is_err());
        }
        assert_eq!(
            broken_hits.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "a failure is not retried at once"
        );
    }

    /// The windows on the injected clock: a fetched set serves until `CACHE_TTL`, a re-fetch
    /// asked for within `REFETCH_COOLDOWN` is answered from memory, a failure is not retried for
    /// `FAILURE_TTL` — and each ends when the clock passes it, not before.
    #[tokio::test]
    async fn cache_cooldown_and_failure_windows_follow_the_clock() {
        let clock = tessera_core::FakeClock::new();
        let fetcher = JwksFetcher::new(true).with_clock(Arc::new(clock.clone()));
        let (url, hits) = server(200, r#"{"keys":[]}"#).await;
        let count = || hits.load(std::sync::atomic::Ordering::SeqCst);
        assert!(fetcher.get(&url, false).await.is_ok());
        assert_eq!(count(), 1);
        // A refresh inside the cool-down, and a plain get inside the cache lifetime: memory.
        clock.advance(chrono::Duration::seconds(29));
        assert!(fetcher.get(&url, true).await.is_ok());
        assert_eq!(count(), 1, "refresh within the cool-down");
        // Past the cool-down a refresh fetches; a plain get still does not.
        clock.advance(chrono::Duration::seconds(2));
        assert!(fetcher.get(&url, false).await.is_ok());
        assert_eq!(count(), 1, "plain get within the cache lifetime");
        assert!(fetcher.get(&url, true).await.is_ok());
        assert_eq!(count(), 2, "refresh after the cool-down");
        // Past the cache lifetime a plain get fetches.
        clock.advance(chrono::Duration::seconds(299));
        assert!(fetcher.get(&url, false).await.is_ok());
        assert_eq!(count(), 2, "just inside the cache lifetime");
        clock.advance(chrono::Duration::seconds(2));
        assert!(fetcher.get(&url, false).await.is_ok());
        assert_eq!(count(), 3, "after the cache lifetime");

        let (broken, broken_hits) = server(500, "no").await;
        let failures = || broken_hits.load(std::sync::atomic::Ordering::SeqCst);
        assert!(fetcher.get(&broken, false).await.is_err());
        clock.advance(chrono::Duration::seconds(9));
        assert!(fetcher.get(&broken, true).await.is_err());
        assert_eq!(failures(), 1, "a failure is remembered for 10 s");
        clock.advance(chrono::Duration::seconds(2));
        assert!(fetcher.get(&broken, true).await.is_err());
        assert_eq!(failures(), 2, "and tried again after");
    }

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "192.0.0.8",
            "240.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "ff02::1",
            "64:ff9b::a00:1",
            "64:ff9b:1::a00:1",
            "::10.0.0.1",
            "::7f00:1",
            "fec0::1",
            "fed0:1::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn production_fetchers_refuse_local_targets() {
        let fetcher = JwksFetcher::new(false);
        for uri in [
            "https://127.0.0.1/jwks.json",
            "https://[::1]:8443/jwks.json",
            "https://169.254.169.254/latest/meta-data",
            "https://localhost/jwks.json",
        ] {
            let err = fetcher.get(uri, false).await.unwrap_err().to_string();
            assert!(
                err.contains("non-public") || err.contains("cannot resolve"),
                "{uri}: {err}"
            );
        }
    }
}
