//! Configuration: defaults → `tessera.toml` (or `--config FILE` / `TESSERA_CONFIG`) →
//! `TESSERA_*` environment variables (`__` separates nested keys) → `<KEY>_FILE` variants for
//! secrets. The raw layers are merged by figment into [`RawConfig`], which refuses unknown keys,
//! and validated once into the typed [`Config`]. Every error names the key and its variable.

use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};
use tessera_core::{Issuer, SigningAlg};

/// The default configuration file, read from the working directory when present.
pub const DEFAULT_CONFIG_FILE: &str = "tessera.toml";

/// The longest access-token lifetime a client may be given (console and CLI refuse more).
pub const MAX_CLIENT_ACCESS_TOKEN_TTL: u64 =
    tessera_client_registry::model::limits::MAX_ACCESS_TOKEN_TTL.unsigned_abs();

/// The merged, unvalidated configuration. Field names are the TOML keys; the environment
/// variable is `TESSERA_` + the upper-cased name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `TESSERA_ISSUER` — the issuer URL, used byte for byte everywhere. Default
    /// `http://127.0.0.1:8080`. https, or http on a loopback host; no trailing slash, query or
    /// fragment.
    pub issuer: String,
    /// `TESSERA_LISTEN` — address to bind. Default `127.0.0.1:8080`.
    pub listen: String,
    /// `TESSERA_DATABASE_URL` — `sqlite://…` or `postgres://…`. Default
    /// `sqlite://./data/tessera.db?mode=rwc` (created on first start).
    pub database_url: String,
    /// `TESSERA_DATABASE_URL_FILE` — read the database URL from this file instead.
    pub database_url_file: Option<PathBuf>,
    /// `TESSERA_KEYS_STORE` — where the signing keys live: `folder` (`TESSERA_KEYS_DIR`) or
    /// `database` (the database, for instances with no shared disk; needs
    /// `TESSERA_KEYS_PASSPHRASE`). Default `folder`.
    pub keys_store: String,
    /// `TESSERA_KEYS_DIR` — the signing-key folder. Default `./keys`.
    pub keys_dir: PathBuf,
    /// `TESSERA_KEYS_PASSPHRASE` — encrypts private keys at rest when set; required with
    /// `TESSERA_KEYS_STORE=database`. Default unset.
    pub keys_passphrase: Option<String>,
    /// `TESSERA_KEYS_PASSPHRASE_FILE` — read the passphrase from this file instead.
    pub keys_passphrase_file: Option<PathBuf>,
    /// `TESSERA_SMTP_URL` — where email is sent: `smtp://host:25` (plain), `smtp://host:587?tls=required`
    /// (STARTTLS), `smtps://user:password@host:465` (TLS). Unset: no email, and the features
    /// that need it (password reset) say so.
    pub smtp_url: Option<String>,
    /// `TESSERA_SMTP_URL_FILE` — read the SMTP URL (it may hold a password) from this file.
    pub smtp_url_file: Option<PathBuf>,
    /// `TESSERA_SMTP_FROM` — the sender of Tessera's email. Default `Tessera <noreply@HOST>`
    /// with the issuer's host.
    pub smtp_from: Option<String>,
    /// `TESSERA_KEY_ACTIVATION_DELAY` — seconds a rotated-in key is published before it signs.
    /// Default 600; at least the JWKS cache lifetime (300).
    pub key_activation_delay: u64,
    /// `TESSERA_ACCESS_TOKEN_TTL` — seconds. Default 900.
    pub access_token_ttl: u64,
    /// `TESSERA_ID_TOKEN_TTL` — seconds. Default 3600.
    pub id_token_ttl: u64,
    /// `TESSERA_REFRESH_TOKEN_TTL` — seconds. Default 2592000 (30 days).
    pub refresh_token_ttl: u64,
    /// `TESSERA_REFRESH_TOKEN_ABSOLUTE_TTL` — seconds from sign-in after which a refresh-token
    /// family ends whatever its use. Default 7776000 (90 days).
    pub refresh_token_absolute_ttl: u64,
    /// `TESSERA_REFRESH_TOKEN_MAX_ROTATIONS` — rotations allowed per family before a new sign-in
    /// is needed; 0 for no cap. Default 0.
    pub refresh_token_max_rotations: u32,
    /// `TESSERA_REFRESH_TOKEN_GRACE` — seconds during which a just-rotated refresh token may be
    /// presented again while its successor is unused (a client that lost the response, or sent
    /// it twice at once); 0 makes rotation strict. Default 30, at most 60.
    pub refresh_token_grace: u64,
    /// `TESSERA_CLIENT_CACHE_TTL` — seconds an instance may reuse a client record it read (changes
    /// made on this instance apply at once; others within this time). 0 disables. Default 2, at
    /// most 60.
    pub client_cache_ttl: u64,
    /// `TESSERA_TOKEN_STATE_CACHE_TTL` — seconds an instance may reuse what it found about an
    /// access token's grant, client and user when introspecting it or answering `/userinfo`
    /// (revocations apply at once on the instance that made them, elsewhere when announced;
    /// this bounds a lost announcement). 0 disables. Default 2, at most 60.
    pub token_state_cache_ttl: u64,
    /// `TESSERA_CODE_TTL` — authorization code lifetime, seconds. Default 60, at most 600.
    pub code_ttl: u64,
    /// `TESSERA_ACCESS_TOKEN_ALG` — `RS256` or `ES256`, for clients that set none. Default RS256.
    pub access_token_alg: String,
    /// `TESSERA_SELF_REGISTRATION` — let people create their own accounts at `/signup`.
    /// Default false.
    pub self_registration: bool,
    /// `TESSERA_REQUIRE_PAR` — accept authorization requests only as pushed authorization
    /// requests (RFC 9126: `/par`, then `/authorize` with the `request_uri`), for every client.
    /// Default false.
    pub require_par: bool,
    /// `TESSERA_DPOP_NONCE` — DPoP proofs must carry a nonce the server issued (RFC 9449 §8:
    /// answered `use_dpop_nonce` with a fresh one in `DPoP-Nonce`), so a proof made in advance
    /// is worthless. Default false.
    pub dpop_nonce: bool,
    /// `TESSERA_MFA` — second factors: `off` (neither offered nor asked for), `optional` (users
    /// may add an authenticator app; whoever has one is asked for a code at every sign-in) or
    /// `required` (every user signs in with one, adding it at their next sign-in). Default
    /// `optional`.
    pub mfa: String,
    /// `TESSERA_SIGNAL_NETWORK_CHANGE_MINUTES` — a sign-in from another network (IPv4 /24, IPv6
    /// /48) within this many minutes of the last one is reported to the user and in the audit
    /// log. Default 30, 1 to 1440.
    pub signal_network_change_minutes: i64,
    /// `TESSERA_SIGNAL_REFRESH_BURST` — this many refreshes of one token family within
    /// `TESSERA_SIGNAL_REFRESH_BURST_SECONDS` are reported (once per window). Default 30, at
    /// least 2.
    pub signal_refresh_burst: u32,
    /// `TESSERA_SIGNAL_REFRESH_BURST_SECONDS` — the refresh-burst window. Default 60, 1 to 3600.
    pub signal_refresh_burst_seconds: i64,
    /// `TESSERA_TRUSTED_PROXIES` — comma-separated CIDRs of reverse proxies whose `Forwarded` /
    /// `X-Forwarded-For` give the client address (for the sign-in throttle, sessions and the
    /// audit log). Default empty: the TCP peer is the client, forwarded headers are ignored.
    pub trusted_proxies: String,
    /// `TESSERA_SIGN_IN_FREE_ATTEMPTS` — failed sign-ins to one account from one address before
    /// each further attempt waits (1 s, doubling, at most 15 min). Default 5.
    pub sign_in_free_attempts: u32,
    /// `TESSERA_SIGN_IN_ACCOUNT_FREE_ATTEMPTS` — failed sign-ins to one account from anywhere
    /// before attempts wait (1 s, doubling, at most 30 s: never a lock). Default 10.
    pub sign_in_account_free_attempts: u32,
    /// `TESSERA_SIGN_IN_ADDRESS_LIMIT` — sign-in attempts one address may make in 15 minutes,
    /// across all accounts, before it is refused until the window ends. Default 1000.
    pub sign_in_address_limit: u32,
    /// `TESSERA_PASSWORD_HASH_CONCURRENCY` — password hashes (argon2id, 19 MiB each) run at once;
    /// 0 means one per CPU core. Default 0.
    pub password_hash_concurrency: u32,
    /// `TESSERA_PASSWORD_HASH_QUEUE` — sign-ins that may wait for a hash; beyond, 503 with
    /// `Retry-After`. Default 64.
    pub password_hash_queue: u32,
    /// `TESSERA_DATABASE_TIMEOUT` — seconds a request may wait for a pooled connection and
    /// (PostgreSQL) for one statement; past it the request is answered 503. Default 5.
    pub database_timeout: u64,
    /// `TESSERA_DATABASE_POOL_SIZE` — connections this instance keeps to PostgreSQL at most
    /// (1–1000); requests beyond wait for one, up to `database_timeout`. Count it against
    /// PostgreSQL's `max_connections` once per instance. SQLite always uses one (it serialises
    /// writers). Default 10.
    pub database_pool_size: u32,
    /// `TESSERA_REQUEST_TIMEOUT` — seconds a client has to send a request's head, and again its
    /// body; past it the answer is `408` and the connection is closed. Default 10.
    pub request_timeout: u64,
    /// `TESSERA_WORKERS` — HTTP worker threads; 0 for one per CPU core. Default 0.
    pub workers: u32,
    /// `TESSERA_AUDIT_RETENTION_DAYS` — audit events older than this many days are deleted by
    /// the housekeeping sweep; 0 keeps them forever. Default 90.
    pub audit_retention_days: u32,
    /// `TESSERA_BRAND_NAME` — the product name the end-user pages show (header, titles).
    /// Default `Tessera`; 1 to 60 characters.
    pub brand_name: String,
    /// `TESSERA_BRAND_LOGO` — an .svg, .png, .jpg or .webp file (at most 256 KiB) shown in the
    /// end-user pages' header, read once at start-up. Default unset (Tessera's mark).
    pub brand_logo: Option<PathBuf>,
    /// `TESSERA_BRAND_ACCENT` — the colour of buttons, links and the header's rule, `#rgb` or
    /// `#rrggbb`. Default `#3056d3`.
    pub brand_accent: String,
    /// `TESSERA_LOG_FORMAT` — `text` or `json`. Default `text`.
    pub log_format: String,
    /// `TESSERA_LOG_LEVEL` — a tracing filter such as `info` or `tessera=debug`. Default `info`.
    /// `RUST_LOG` overrides it.
    pub log_level: String,
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            issuer: "http://127.0.0.1:8080".into(),
            listen: "127.0.0.1:8080".into(),
            database_url: "sqlite://./data/tessera.db?mode=rwc".into(),
            database_url_file: None,
            keys_store: "folder".into(),
            keys_dir: PathBuf::from("./keys"),
            keys_passphrase: None,
            keys_passphrase_file: None,
            smtp_url: None,
            smtp_url_file: None,
            smtp_from: None,
            key_activation_delay: 600,
            access_token_ttl: 900,
            id_token_ttl: 3600,
            refresh_token_ttl: 30 * 24 * 3600,
            refresh_token_absolute_ttl: 90 * 24 * 3600,
            refresh_token_max_rotations: 0,
            refresh_token_grace: 30,
            client_cache_ttl: 2,
            token_state_cache_ttl: 2,
            code_ttl: 60,
            access_token_alg: "RS256".into(),
            self_registration: false,
            require_par: false,
            dpop_nonce: false,
            mfa: "optional".into(),
            signal_network_change_minutes: 30,
            signal_refresh_burst: 30,
            signal_refresh_burst_seconds: 60,
            trusted_proxies: String::new(),
            sign_in_free_attempts: 5,
            sign_in_account_free_attempts: 10,
            sign_in_address_limit: 1000,
            password_hash_concurrency: 0,
            password_hash_queue: 64,
            audit_retention_days: 90,
            database_timeout: 5,
            database_pool_size: 10,
            request_timeout: 10,
            workers: 0,
            brand_name: "Tessera".into(),
            brand_logo: None,
            brand_accent: tessera_web::brand::DEFAULT_ACCENT.into(),
            log_format: "text".into(),
            log_level: "info".into(),
        }
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The validated configuration.
#[derive(Clone)]
pub struct Config {
    /// The issuer.
    pub issuer: Issuer,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The database URL (may hold a password: never print it, see [`Config::redacted`]).
    pub database_url: String,
    /// Where the signing keys live.
    pub keys_store: KeyStoreKind,
    /// The key folder.
    pub keys_dir: PathBuf,
    /// The key passphrase.
    pub keys_passphrase: Option<String>,
    /// Where email goes, and from whom (`None`: no email).
    pub smtp: Option<Smtp>,
    /// Publication before activation for rotated keys.
    pub key_activation_delay: Duration,
    /// Access token lifetime.
    pub access_token_ttl: Duration,
    /// ID token lifetime.
    pub id_token_ttl: Duration,
    /// Refresh token idle lifetime.
    pub refresh_token_ttl: Duration,
    /// Refresh-token family absolute lifetime.
    pub refresh_token_absolute_ttl: Duration,
    /// Rotation cap per family (`None`: no cap).
    pub refresh_token_max_rotations: Option<u32>,
    /// Grace window for retrying a rotated refresh token.
    pub refresh_token_grace: Duration,
    /// How long a client record read from the database may be reused.
    pub client_cache_ttl: Duration,
    /// How long an access token's checked state may be reused.
    pub token_state_cache_ttl: Duration,
    /// Authorization code lifetime.
    pub code_ttl: Duration,
    /// Default access token algorithm.
    pub access_token_alg: SigningAlg,
    /// Whether `/signup` is open.
    pub self_registration: bool,
    /// Whether authorization requests must be pushed (RFC 9126).
    pub require_par: bool,
    /// Whether DPoP proofs must carry a server nonce (RFC 9449 §8).
    pub dpop_nonce: bool,
    /// The second-factor policy.
    pub mfa: tessera_core::amr::MfaPolicy,
    /// The thresholds of the account signals.
    pub signals: tessera_core::signals::SignalPolicy,
    /// Proxies whose forwarded client address is believed.
    pub trusted_proxies: tessera_web::client_address::TrustedProxies,
    /// The sign-in throttle.
    pub sign_in_policy: tessera_core::sign_in::ThrottlePolicy,
    /// Password hashes at once.
    pub password_hash_concurrency: usize,
    /// Password hashes waiting.
    pub password_hash_queue: usize,
    /// How long audit events are kept (`None`: forever).
    pub audit_retention: Option<chrono::Duration>,
    /// How long a request waits for the database.
    pub database_timeout: Duration,
    /// Database connections at most.
    pub database_pool_size: u32,
    /// How long a request's head, and its body, may take to arrive.
    pub request_timeout: Duration,
    /// HTTP worker threads.
    pub workers: usize,
    /// `TESSERA_*` environment variables that name no setting (warned about at start-up).
    pub ignored_env: Vec<String>,
    /// What the end-user pages show as the product (installed at start-up,
    /// `tessera_web::brand::install`).
    pub brand: tessera_web::brand::Brand,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter.
    pub log_level: String,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Where the signing keys live (`TESSERA_KEYS_STORE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStoreKind {
    /// The key folder (`TESSERA_KEYS_DIR`): the embedded default; instances share it as a
    /// volume.
    Folder,
    /// The database, private keys encrypted with the passphrase: instances share nothing else.
    Database,
}

impl KeyStoreKind {
    /// The configuration value.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStoreKind::Folder => "folder",
            KeyStoreKind::Database => "database",
        }
    }
}

/// A configuration error, naming the key and the variable that sets it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A layer could not be read, a value has the wrong type or an unknown key was given: one
    /// plain sentence per problem (see [`plain_errors`]).
    #[error("configuration: {}", .0.join("; "))]
    Load(Vec<String>),
    /// A value was read but is not acceptable.
    #[error("configuration: invalid `{key}` (TESSERA_{env}): {message}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// The upper-case variable suffix.
        env: String,
        /// What is wrong.
        message: String,
    },
}

/// Where email is sent, and from whom.
#[derive(Clone)]
pub struct Smtp {
    /// The transport URL (may hold a password: never printed).
    pub url: String,
    /// The sender.
    pub from: String,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp")
            .field("url", &tessera_storage::redact_url(&self.url))
            .field("from", &self.from)
            .finish()
    }
}

/// `value` when it is within `min..=max`, or the error naming `key`.
fn within(key: &'static str, value: i64, min: i64, max: i64) -> Result<i64, ConfigError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(invalid(key, format!("{value} is outside {min}..={max}")))
    }
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        env: key.to_ascii_uppercase(),
        message: message.into(),
    }
}

/// Where the layers come from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// An explicit config file (must exist); otherwise `tessera.toml` if present.
    pub file: Option<PathBuf>,
}

/// The setting names (TOML keys), from the defaults' fields.
fn known_keys() -> Vec<String> {
    serde_json::to_value(RawConfig::default())
        .ok()
        .and_then(|v| v.as_object().map(|m| m.keys().cloned().collect()))
        .unwrap_or_default()
}

/// What a setting takes, in words.
fn expected_for(key: &str, serde_expected: &str) -> String {
    const SECONDS: [&str; 5] = ["_ttl", "_delay", "_grace", "_timeout", "_seconds"];
    if SECONDS.iter().any(|suffix| key.ends_with(suffix)) {
        "a whole number of seconds".into()
    } else if key.ends_with("_days") {
        "a whole number of days".into()
    } else if ["u8", "u16", "u32", "u64", "usize"]
        .iter()
        .any(|t| serde_expected.contains(t))
    {
        "a whole number".into()
    } else if serde_expected.contains("bool") {
        "true or false".into()
    } else if serde_expected.contains("string") || serde_expected.contains("path") {
        "text".into()
    } else {
        serde_expected.to_owned()
    }
}

/// A value as the user wrote it.
fn as_written(actual: &figment::error::Actual) -> String {
    use figment::error::Actual;
    match actual {
        Actual::Str(text) => format!("`{text}`"),
        Actual::Unsigned(n) => format!("`{n}`"),
        Actual::Signed(n) => format!("`{n}`"),
        Actual::Float(n) => format!("`{n}`"),
        Actual::Bool(b) => format!("`{b}`"),
        other => other.to_string(),
    }
}

/// figment's errors as plain sentences that name the variable or the file line's key:
/// "`TESSERA_ACCESS_TOKEN_TTL`: expected a whole number of seconds, got `abc`", and a
/// did-you-mean for a misspelt key in the config file.
pub fn plain_errors(err: figment::Error) -> Vec<String> {
    use figment::error::Kind;
    let known = known_keys();
    err.into_iter()
        .map(|error| {
            let key = error.path.last().cloned().unwrap_or_default();
            let file = error
                .metadata
                .as_ref()
                .and_then(|m| m.source.as_ref())
                .and_then(|source| source.file_path())
                .map(|path| path.display().to_string());
            let from_env = error
                .metadata
                .as_ref()
                .is_some_and(|m| m.name.to_lowercase().contains("environment"));
            let place = match (&file, from_env) {
                (Some(file), _) => format!("`{key}` in {file}"),
                (None, true) => format!("`TESSERA_{}`", key.to_ascii_uppercase()),
                (None, false) => format!("`{key}`"),
            };
            match &error.kind {
                Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
                    format!(
                        "{place}: expected {}, got {}",
                        expected_for(&key, expected),
                        as_written(actual)
                    )
                }
                Kind::UnknownField(field, _) => {
                    let closest = known
                        .iter()
                        .map(|k| (edit_distance(field, k), k))
                        .filter(|(d, _)| *d <= 2)
                        .min()
                        .map(|(_, k)| format!(" (did you mean `{k}`?)"))
                        .unwrap_or_default();
                    let place = file.map_or_else(String::new, |file| format!(" in {file}"));
                    format!("unknown setting `{field}`{place}{closest}")
                }
                _ => error.to_string(),
            }
        })
        .collect()
}

/// Edit distance (insertions, deletions, substitutions), for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substituted = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substituted.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

/// `TESSERA_*` variables that name no setting (and are not `TESSERA_CONFIG`), each with the
/// setting it is closest to when that is a likely typo.
fn ignored_env_vars() -> Vec<String> {
    let known = known_keys();
    let mut ignored: Vec<String> = std::env::vars_os()
        .filter_map(|(key, _)| key.into_string().ok())
        .filter_map(|key| {
            let name = key.strip_prefix("TESSERA_")?.to_ascii_lowercase();
            if name == "config" || known.contains(&name) {
                return None;
            }
            let closest = known
                .iter()
                .map(|k| (edit_distance(&name, k), k))
                .filter(|(d, _)| *d <= 2)
                .min();
            Some(match closest {
                Some((_, k)) => format!("{key} (did you mean TESSERA_{}?)", k.to_ascii_uppercase()),
                None => key,
            })
        })
        .collect();
    ignored.sort();
    ignored
}

impl Config {
    /// Loads and validates the configuration from defaults, the file and the environment.
    pub fn load(sources: &Sources) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(RawConfig::default()));
        match &sources.file {
            Some(path) => {
                if !path.is_file() {
                    return Err(ConfigError::Load(vec![format!(
                        "the config file {} does not exist",
                        path.display()
                    )]));
                }
                figment = figment.merge(Toml::file_exact(path));
            }
            None => figment = figment.merge(Toml::file(DEFAULT_CONFIG_FILE)),
        }
        // Only variables that name a setting: orchestrators inject others with the prefix
        // (Kubernetes makes `TESSERA_PORT`, `TESSERA_SERVICE_HOST` for a Service named tessera),
        // so those are listed in a warning at start-up instead of stopping it. The config file
        // stays strict.
        let known = known_keys();
        figment = figment.merge(
            Env::prefixed("TESSERA_")
                .split("__")
                .ignore(&["CONFIG"])
                .filter(move |key| known.iter().any(|k| key.as_str().eq_ignore_ascii_case(k))),
        );
        let raw: RawConfig = figment
            .extract()
            .map_err(|err| ConfigError::Load(plain_errors(err)))?;
        let mut config = Self::validate(raw)?;
        config.ignored_env = ignored_env_vars();
        Ok(config)
    }

    /// Validates a raw configuration.
    pub fn validate(raw: RawConfig) -> Result<Self, ConfigError> {
        let issuer = validate_issuer(&raw.issuer)?;
        let listen = raw.listen.parse::<SocketAddr>().map_err(|err| {
            invalid(
                "listen",
                format!("`{}` is not an IP:port address ({err})", raw.listen),
            )
        })?;
        let database_url = match &raw.database_url_file {
            Some(path) => read_secret_file("database_url_file", path)?,
            None => raw.database_url.clone(),
        };
        tessera_storage::Backend::of(&database_url)
            .map_err(|err| invalid("database_url", err.to_string()))?;
        let smtp_url = match &raw.smtp_url_file {
            Some(path) => Some(read_secret_file("smtp_url_file", path)?),
            None => raw.smtp_url.clone().filter(|u| !u.trim().is_empty()),
        };
        let smtp = match smtp_url {
            None => None,
            Some(url) => {
                let url = url.trim().to_owned();
                if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                    return Err(invalid("smtp_url", "must start with smtp:// or smtps://"));
                }
                let host = url::Url::parse(&raw.issuer)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned))
                    .unwrap_or_else(|| "localhost".into());
                let from = raw
                    .smtp_from
                    .clone()
                    .unwrap_or_else(|| format!("Tessera <noreply@{host}>"));
                Some(Smtp { url, from })
            }
        };
        let keys_passphrase = match &raw.keys_passphrase_file {
            Some(path) => Some(read_secret_file("keys_passphrase_file", path)?),
            None => raw.keys_passphrase.clone(),
        }
        .filter(|p| !p.is_empty());
        if raw.keys_dir.as_os_str().is_empty() {
            return Err(invalid("keys_dir", "must not be empty"));
        }
        let keys_store = match raw.keys_store.as_str() {
            "folder" => KeyStoreKind::Folder,
            "database" if keys_passphrase.is_none() => {
                return Err(invalid(
                    "keys_store",
                    "`database` needs TESSERA_KEYS_PASSPHRASE (or TESSERA_KEYS_PASSPHRASE_FILE): \
                     private keys in the database are always encrypted",
                ));
            }
            "database" => KeyStoreKind::Database,
            other => {
                return Err(invalid(
                    "keys_store",
                    format!("`{other}` is not folder or database"),
                ));
            }
        };
        let secs = |key: &'static str, value: u64, min: u64, max: u64| {
            if (min..=max).contains(&value) {
                Ok(Duration::from_secs(value))
            } else {
                Err(invalid(
                    key,
                    format!("{value} is outside {min}..={max} seconds"),
                ))
            }
        };
        const YEAR: u64 = 365 * 24 * 3600;
        let access_token_alg = raw
            .access_token_alg
            .parse::<SigningAlg>()
            .map_err(|err| invalid("access_token_alg", err.to_string()))?;
        let mfa = tessera_core::amr::MfaPolicy::parse(&raw.mfa).ok_or_else(|| {
            invalid(
                "mfa",
                format!("{:?} is not off, optional or required", raw.mfa),
            )
        })?;
        let signals = tessera_core::signals::SignalPolicy {
            address_change_window: chrono::Duration::minutes(within(
                "signal_network_change_minutes",
                raw.signal_network_change_minutes,
                1,
                1440,
            )?),
            refresh_burst_count: u32::try_from(within(
                "signal_refresh_burst",
                i64::from(raw.signal_refresh_burst),
                2,
                1_000_000,
            )?)
            .unwrap_or(u32::MAX),
            refresh_burst_window: chrono::Duration::seconds(within(
                "signal_refresh_burst_seconds",
                raw.signal_refresh_burst_seconds,
                1,
                3600,
            )?),
        };
        let brand = validate_brand(&raw)?;
        let log_format = match raw.log_format.as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(invalid(
                    "log_format",
                    format!("`{other}` is not text or json"),
                ));
            }
        };
        let trusted_proxies =
            tessera_web::client_address::TrustedProxies::parse(&raw.trusted_proxies)
                .map_err(|err| invalid("trusted_proxies", err))?;
        if raw.sign_in_address_limit == 0 {
            return Err(invalid("sign_in_address_limit", "must be at least 1"));
        }
        let defaults = tessera_core::sign_in::ThrottlePolicy::default();
        let sign_in_policy = tessera_core::sign_in::ThrottlePolicy {
            account_address: tessera_core::sign_in::Limit {
                free: raw.sign_in_free_attempts,
                ..defaults.account_address
            },
            account: tessera_core::sign_in::Limit {
                free: raw.sign_in_account_free_attempts,
                ..defaults.account
            },
            address_limit: raw.sign_in_address_limit,
            ..defaults
        };
        let password_hash_concurrency = match raw.password_hash_concurrency {
            0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            n => n as usize,
        };
        Ok(Self {
            brand,
            ignored_env: Vec::new(),
            trusted_proxies,
            sign_in_policy,
            password_hash_concurrency,
            password_hash_queue: raw.password_hash_queue as usize,
            database_timeout: secs("database_timeout", raw.database_timeout, 1, 300)?,
            database_pool_size: match raw.database_pool_size {
                n @ 1..=1000 => n,
                n => {
                    return Err(invalid(
                        "database_pool_size",
                        format!("{n} is not between 1 and 1000"),
                    ));
                }
            },
            request_timeout: secs("request_timeout", raw.request_timeout, 1, 300)?,
            workers: match raw.workers {
                0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
                n if n <= 1024 => n as usize,
                n => return Err(invalid("workers", format!("{n} is more than 1024"))),
            },
            audit_retention: (raw.audit_retention_days > 0)
                .then(|| chrono::Duration::days(i64::from(raw.audit_retention_days))),
            issuer,
            listen,
            database_url,
            keys_store,
            keys_dir: raw.keys_dir,
            keys_passphrase,
            smtp,
            key_activation_delay: secs(
                "key_activation_delay",
                raw.key_activation_delay,
                u64::from(tessera_discovery::JWKS_MAX_AGE_SECS),
                30 * 24 * 3600,
            )?,
            access_token_ttl: secs("access_token_ttl", raw.access_token_ttl, 1, 24 * 3600)?,
            id_token_ttl: secs("id_token_ttl", raw.id_token_ttl, 1, 24 * 3600)?,
            refresh_token_ttl: secs("refresh_token_ttl", raw.refresh_token_ttl, 1, YEAR)?,
            refresh_token_absolute_ttl: secs(
                "refresh_token_absolute_ttl",
                raw.refresh_token_absolute_ttl,
                1,
                5 * YEAR,
            )?,
            refresh_token_max_rotations: (raw.refresh_token_max_rotations > 0)
                .then_some(raw.refresh_token_max_rotations),
            refresh_token_grace: secs("refresh_token_grace", raw.refresh_token_grace, 0, 60)?,
            client_cache_ttl: secs("client_cache_ttl", raw.client_cache_ttl, 0, 60)?,
            token_state_cache_ttl: secs("token_state_cache_ttl", raw.token_state_cache_ttl, 0, 60)?,
            code_ttl: secs("code_ttl", raw.code_ttl, 1, 600)?,
            access_token_alg,
            self_registration: raw.self_registration,
            require_par: raw.require_par,
            dpop_nonce: raw.dpop_nonce,
            mfa,
            signals,
            log_format,
            log_level: raw.log_level,
        })
    }

    /// How long a retired key stays published: the longest-lived JWT it can have signed, plus
    /// the JWKS cache lifetime. A client may have its own access-token lifetime of up to
    /// [`MAX_CLIENT_ACCESS_TOKEN_TTL`], so that bounds it too (publishing a public key a day
    /// longer costs nothing; withdrawing it early breaks valid tokens).
    pub fn key_publish_grace(&self) -> Duration {
        self.access_token_ttl
            .max(self.id_token_ttl)
            .max(Duration::from_secs(MAX_CLIENT_ACCESS_TOKEN_TTL))
            + Duration::from_secs(u64::from(tessera_discovery::JWKS_MAX_AGE_SECS))
    }

    /// How key rotation schedules keys: the configured activation delay (or `activate_in`), and
    /// [`Config::key_publish_grace`]. Both are bounded by validation, so they fit.
    pub fn rotation_policy(&self, activate_in: Option<Duration>) -> tessera_keys::RotationPolicy {
        let delay = activate_in.unwrap_or(self.key_activation_delay);
        tessera_keys::RotationPolicy {
            activation_delay: chrono::Duration::from_std(delay)
                .unwrap_or(chrono::Duration::days(30)),
            publish_grace: chrono::Duration::from_std(self.key_publish_grace())
                .unwrap_or(chrono::Duration::days(2)),
        }
    }

    /// The token endpoint's defaults.
    pub fn token_policy(&self) -> tessera_token_endpoint::mint::TokenPolicy {
        let span = |d: Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(1));
        tessera_token_endpoint::mint::TokenPolicy {
            access_token_ttl: span(self.access_token_ttl),
            id_token_ttl: span(self.id_token_ttl),
            refresh_idle_ttl: span(self.refresh_token_ttl),
            refresh_absolute_ttl: span(self.refresh_token_absolute_ttl),
            refresh_max_rotations: self
                .refresh_token_max_rotations
                .and_then(|max| i32::try_from(max).ok()),
            refresh_grace: span(self.refresh_token_grace),
            access_token_alg: self.access_token_alg,
        }
    }

    /// A printable summary with secrets removed.
    pub fn redacted(&self) -> String {
        format!(
            "issuer = {}\nlisten = {}\ndatabase_url = {}\nkeys_store = {}\nkeys_dir = {}\nkeys_passphrase = {}\n\
             key_activation_delay = {}s\naccess_token_ttl = {}s\nid_token_ttl = {}s\n\
             refresh_token_ttl = {}s\nrefresh_token_absolute_ttl = {}s\nrefresh_token_max_rotations = {}\n\
             refresh_token_grace = {}s\nclient_cache_ttl = {}s\ntoken_state_cache_ttl = {}s\ncode_ttl = {}s\naccess_token_alg = {}\nself_registration = {}\nrequire_par = {}\ndpop_nonce = {}\nmfa = {}\nsmtp = {}\nsignal_network_change_minutes = {}\nsignal_refresh_burst = {} in {}s\n\
             trusted_proxies = {}\nsign_in_free_attempts = {}\nsign_in_account_free_attempts = {}\n\
             sign_in_address_limit = {}\npassword_hash_concurrency = {}\npassword_hash_queue = {}\n\
             audit_retention_days = {}\ndatabase_timeout = {}s\ndatabase_pool_size = {}\nrequest_timeout = {}s\nworkers = {}\n\
             brand_name = {:?}\nbrand_logo = {}\nbrand_accent = {}\nlog_format = {:?}\nlog_level = {}",
            self.issuer,
            self.listen,
            tessera_storage::redact_url(&self.database_url),
            self.keys_store.as_str(),
            self.keys_dir.display(),
            if self.keys_passphrase.is_some() {
                "(set)"
            } else {
                "(unset)"
            },
            self.key_activation_delay.as_secs(),
            self.access_token_ttl.as_secs(),
            self.id_token_ttl.as_secs(),
            self.refresh_token_ttl.as_secs(),
            self.refresh_token_absolute_ttl.as_secs(),
            self.refresh_token_max_rotations.unwrap_or(0),
            self.refresh_token_grace.as_secs(),
            self.client_cache_ttl.as_secs(),
            self.token_state_cache_ttl.as_secs(),
            self.code_ttl.as_secs(),
            self.access_token_alg,
            self.self_registration,
            self.require_par,
            self.dpop_nonce,
            self.mfa.as_str(),
            self.smtp.as_ref().map_or_else(
                || "(unset: no email)".to_owned(),
                |s| format!("{} from {}", tessera_storage::redact_url(&s.url), s.from)
            ),
            self.signals.address_change_window.num_minutes(),
            self.signals.refresh_burst_count,
            self.signals.refresh_burst_window.num_seconds(),
            self.trusted_proxies.0.len(),
            self.sign_in_policy.account_address.free,
            self.sign_in_policy.account.free,
            self.sign_in_policy.address_limit,
            self.password_hash_concurrency,
            self.password_hash_queue,
            self.audit_retention.map_or(0, |d| d.num_days()),
            self.database_timeout.as_secs(),
            self.database_pool_size,
            self.request_timeout.as_secs(),
            self.workers,
            self.brand.name,
            self.brand.logo.as_ref().map_or_else(
                || "(unset)".to_owned(),
                |l| format!("{} bytes of {}", l.bytes.len(), l.content_type)
            ),
            self.brand.accent,
            self.log_format,
            self.log_level,
        )
    }
}

fn read_secret_file(key: &'static str, path: &std::path::Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map(|text| text.trim_end_matches(['\r', '\n']).to_owned())
        .map_err(|err| invalid(key, format!("cannot read {}: {err}", path.display())))
}

fn validate_brand(raw: &RawConfig) -> Result<tessera_web::brand::Brand, ConfigError> {
    use tessera_web::brand::{Brand, Logo, valid_accent, valid_name};
    if !valid_name(&raw.brand_name) {
        return Err(invalid(
            "brand_name",
            "must be 1 to 60 characters with no control characters",
        ));
    }
    if !valid_accent(&raw.brand_accent) {
        return Err(invalid(
            "brand_accent",
            format!(
                "{:?} is not a colour written #rgb or #rrggbb",
                raw.brand_accent
            ),
        ));
    }
    let logo = match &raw.brand_logo {
        None => None,
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|err| {
                invalid(
                    "brand_logo",
                    format!("cannot read {}: {err}", path.display()),
                )
            })?;
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            Some(
                Logo::from_file(name, bytes)
                    .map_err(|err| invalid("brand_logo", format!("{}: {err}", path.display())))?,
            )
        }
    };
    Ok(Brand {
        name: raw.brand_name.trim().to_owned(),
        logo,
        accent: raw.brand_accent.clone(),
    })
}

fn validate_issuer(value: &str) -> Result<Issuer, ConfigError> {
    let url = url::Url::parse(value)
        .map_err(|err| invalid("issuer", format!("`{value}` is not a URL ({err})")))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "issuer",
            "must not have a query or fragment (RFC 8414 §2)",
        ));
    }
    if value.ends_with('/') {
        return Err(invalid(
            "issuer",
            "must not end with `/` (it is used byte for byte)",
        ));
    }
    if url.path() != "/" {
        return Err(invalid(
            "issuer",
            "a path in the issuer is not supported yet",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("issuer", "must not contain credentials"));
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(invalid(
                "issuer",
                "http is only allowed on a loopback host; use https",
            ));
        }
        other => {
            return Err(invalid(
                "issuer",
                format!("scheme `{other}` is not http(s)"),
            ));
        }
    }
    Ok(Issuer::new(value))
}

#[cfg(test)]
mod env_tests {
    use super::edit_distance;

    #[test]
    fn typos_are_close_and_strangers_are_not() {
        assert_eq!(edit_distance("databse_url", "database_url"), 1);
        assert_eq!(edit_distance("issuer", "issuer"), 0);
        assert!(edit_distance("service_host", "issuer") > 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: impl FnOnce(&mut RawConfig)) -> Result<Config, ConfigError> {
        let mut raw = RawConfig::default();
        f(&mut raw);
        Config::validate(raw)
    }

    #[test]
    fn defaults_are_valid() {
        let config = with(|_| {}).unwrap();
        assert_eq!(config.issuer.as_str(), "http://127.0.0.1:8080");
        assert_eq!(config.code_ttl, Duration::from_secs(60));
        assert_eq!(config.access_token_alg, SigningAlg::RS256);
    }

    #[test]
    fn issuer_rules() {
        for ok in [
            "https://id.example.com",
            "http://localhost:9000",
            "http://[::1]:8080",
            "https://id.example.com:8443",
        ] {
            assert!(with(|r| r.issuer = ok.into()).is_ok(), "{ok}");
        }
        for bad in [
            "http://id.example.com",
            "https://id.example.com/",
            "https://id.example.com?x=1",
            "https://id.example.com#f",
            "https://u:p@id.example.com",
            "ftp://id.example.com",
            "not a url",
        ] {
            let err = with(|r| r.issuer = bad.into()).unwrap_err().to_string();
            assert!(err.contains("`issuer` (TESSERA_ISSUER)"), "{bad}: {err}");
        }
    }

    #[test]
    fn bad_values_name_their_key() {
        type Change = Box<dyn Fn(&mut RawConfig)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|r| r.code_ttl = 601), "TESSERA_CODE_TTL"),
            (
                Box::new(|r| r.refresh_token_grace = 61),
                "TESSERA_REFRESH_TOKEN_GRACE",
            ),
            (
                Box::new(|r| r.refresh_token_absolute_ttl = 0),
                "TESSERA_REFRESH_TOKEN_ABSOLUTE_TTL",
            ),
            (
                Box::new(|r| r.client_cache_ttl = 61),
                "TESSERA_CLIENT_CACHE_TTL",
            ),
            (
                Box::new(|r| r.token_state_cache_ttl = 61),
                "TESSERA_TOKEN_STATE_CACHE_TTL",
            ),
            (
                Box::new(|r| r.access_token_ttl = 0),
                "TESSERA_ACCESS_TOKEN_TTL",
            ),
            (
                Box::new(|r| r.access_token_alg = "HS256".into()),
                "TESSERA_ACCESS_TOKEN_ALG",
            ),
            (Box::new(|r| r.mfa = "sometimes".into()), "TESSERA_MFA"),
            (
                Box::new(|r| r.smtp_url = Some("http://mail.example".into())),
                "TESSERA_SMTP_URL",
            ),
            (
                Box::new(|r| r.signal_refresh_burst = 1),
                "TESSERA_SIGNAL_REFRESH_BURST",
            ),
            (
                Box::new(|r| r.signal_refresh_burst_seconds = 0),
                "TESSERA_SIGNAL_REFRESH_BURST_SECONDS",
            ),
            (
                Box::new(|r| r.signal_network_change_minutes = 1441),
                "TESSERA_SIGNAL_NETWORK_CHANGE_MINUTES",
            ),
            (
                Box::new(|r| r.listen = "localhost".into()),
                "TESSERA_LISTEN",
            ),
            (
                Box::new(|r| r.database_url = "mysql://x".into()),
                "TESSERA_DATABASE_URL",
            ),
            (
                Box::new(|r| r.brand_accent = "red".into()),
                "TESSERA_BRAND_ACCENT",
            ),
            (
                Box::new(|r| r.brand_name = " ".into()),
                "TESSERA_BRAND_NAME",
            ),
            (
                Box::new(|r| r.brand_logo = Some("/nonexistent/logo.svg".into())),
                "TESSERA_BRAND_LOGO",
            ),
            (
                Box::new(|r| r.log_format = "xml".into()),
                "TESSERA_LOG_FORMAT",
            ),
            (
                Box::new(|r| r.database_pool_size = 0),
                "TESSERA_DATABASE_POOL_SIZE",
            ),
            (
                Box::new(|r| r.keys_store = "vault".into()),
                "TESSERA_KEYS_STORE",
            ),
            (
                Box::new(|r| r.keys_store = "database".into()),
                "TESSERA_KEYS_STORE",
            ),
            (
                Box::new(|r| r.key_activation_delay = 10),
                "TESSERA_KEY_ACTIVATION_DELAY",
            ),
        ];
        for (change, env) in cases {
            let err = with(change).unwrap_err().to_string();
            assert!(err.contains(env), "{err}");
        }
    }

    #[test]
    fn the_database_key_store_takes_a_passphrase_from_a_variable_or_a_file() {
        let config = with(|r| {
            r.keys_store = "database".into();
            r.keys_passphrase = Some("correct horse".into());
        })
        .unwrap();
        assert_eq!(config.keys_store, KeyStoreKind::Database);
        assert_eq!(with(|_| {}).unwrap().keys_store, KeyStoreKind::Folder);
        let dir = tempfile::TempDir::new().unwrap();
        let file = dir.path().join("passphrase");
        std::fs::write(&file, "correct horse\n").unwrap();
        let config = with(move |r| {
            r.keys_store = "database".into();
            r.keys_passphrase_file = Some(file);
        })
        .unwrap();
        assert_eq!(config.keys_passphrase.as_deref(), Some("correct horse"));
        // An empty passphrase is no passphrase.
        let err = with(|r| {
            r.keys_store = "database".into();
            r.keys_passphrase = Some(String::new());
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("TESSERA_KEYS_PASSPHRASE"), "{err}");
    }

    #[test]
    fn debug_and_summary_hide_secrets() {
        let config = with(|r| {
            r.database_url = "postgres://tessera:hunter2@db/tessera".into();
            r.keys_passphrase = Some("correct horse".into());
            r.smtp_url = Some("smtps://mailer:battery-staple@mail.example:465".into());
        })
        .unwrap();
        for shown in [format!("{config:?}"), config.redacted()] {
            assert!(
                !shown.contains("hunter2")
                    && !shown.contains("correct horse")
                    && !shown.contains("battery-staple"),
                "{shown}"
            );
        }
        assert!(config.redacted().contains("mail.example"));
    }
}
