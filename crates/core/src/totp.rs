//! One-time codes from an authenticator app (TOTP, RFC 6238 over HOTP, RFC 4226) and the
//! recovery codes that stand in for the app when it is lost.
//!
//! A secret is 160 random bits (RFC 4226 §4's recommendation), shown to the user once as base32
//! (RFC 4648, no padding) and as an `otpauth://` URI in a QR code. Codes are 6 digits, steps of
//! 30 s, HMAC-SHA-1 — what every authenticator app understands. A code is accepted from the
//! step before to the step after now (±1 step, RFC 6238 §5.2), and only for a step later than
//! the last one used: a code seen once (over a shoulder, in a phishing proxy's log) is refused
//! the second time, on every instance, because the step is stored with a conditional write.
//!
//! The secret must be read back to compute codes, so unlike every other secret of Tessera it is
//! stored as it is, not hashed (docs/decisions/0026). Recovery codes are random, shown once,
//! stored as SHA-256 like bearer secrets, and each works once.

use aws_lc_rs::hmac;
use chrono::{DateTime, Utc};
use rand::{Rng, RngCore, rngs::OsRng};

use crate::secret::TokenHash;

/// Bytes of a TOTP secret: 160 bits.
pub const SECRET_BYTES: usize = 20;
/// Seconds per step.
pub const STEP_SECONDS: i64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Steps accepted on either side of now.
pub const WINDOW: i64 = 1;
/// Recovery codes issued at enrolment (and when they are renewed).
pub const RECOVERY_CODES: usize = 10;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// Recovery codes: lowercase letters and digits without the look-alikes (0/o, 1/l/i).
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// A TOTP secret (never printed by `Debug`).
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(…)")
    }
}

impl TotpSecret {
    /// A fresh random secret.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// From its base32 text (as stored, or as typed: case, spaces and padding ignored).
    pub fn from_base32(text: &str) -> Option<Self> {
        let mut bytes = Vec::with_capacity(text.len() * 5 / 8);
        let (mut buffer, mut bits) = (0u32, 0u32);
        for c in text.bytes().filter(|c| !matches!(c, b' ' | b'=' | b'-')) {
            let value = BASE32.iter().position(|&b| b == c.to_ascii_uppercase())?;
            buffer = (buffer << 5) | u32::try_from(value).ok()?;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                bytes.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
            }
        }
        (bytes.len() >= 10).then_some(Self(bytes))
    }

    /// The base32 text (no padding): stored, and shown for typing into an app.
    pub fn to_base32(&self) -> String {
        let mut out = String::with_capacity(self.0.len() * 8 / 5 + 1);
        let (mut buffer, mut bits) = (0u32, 0u32);
        for &byte in &self.0 {
            buffer = (buffer << 8) | u32::from(byte);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
            }
        }
        if bits > 0 {
            out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
        }
        out
    }

    /// The base32 text in groups of four, easier to type.
    pub fn grouped(&self) -> String {
        let text = self.to_base32();
        let groups: Vec<String> = text
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        groups.join(" ")
    }

    /// The code of `step` (HOTP, RFC 4226 §5.3, over the step counter).
    pub fn code_at_step(&self, step: i64) -> u32 {
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &self.0);
        let tag = hmac::sign(&key, &step.to_be_bytes());
        let digest = tag.as_ref();
        let offset = usize::from(digest[digest.len() - 1] & 0x0f);
        let binary = u32::from_be_bytes([
            digest[offset] & 0x7f,
            digest[offset + 1],
            digest[offset + 2],
            digest[offset + 3],
        ]);
        binary % 10u32.pow(DIGITS)
    }

    /// The code at `now`, as the app shows it (six digits, leading zeros kept).
    pub fn code_at(&self, now: DateTime<Utc>) -> String {
        format!("{:06}", self.code_at_step(step_of(now)))
    }

    /// The step `typed` is the code of, within ±[`WINDOW`] steps of `now` and later than
    /// `last_used`; `None` when it is not a current code or was used already. Spaces are
    /// ignored; anything but six digits is not a code. Compared in constant time.
    pub fn verify(&self, typed: &str, now: DateTime<Utc>, last_used: Option<i64>) -> Option<i64> {
        let digits: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() != DIGITS as usize || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let now_step = step_of(now);
        let mut found = None;
        for step in now_step - WINDOW..=now_step + WINDOW {
            let expected = format!("{:06}", self.code_at_step(step));
            let fresh = last_used.is_none_or(|last| step > last);
            if crate::secret::constant_time_eq(expected.as_bytes(), digits.as_bytes())
                && fresh
                && found.is_none()
            {
                found = Some(step);
            }
        }
        found
    }

    /// The `otpauth://` URI an authenticator app reads from the QR code (Key Uri Format:
    /// `otpauth://totp/ISSUER:ACCOUNT?secret=…&issuer=ISSUER&algorithm=SHA1&digits=6&period=30`).
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let encode = |text: &str| -> String {
            text.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                        char::from(b).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect()
        };
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            encode(issuer),
            encode(account),
            self.to_base32(),
            encode(issuer),
        )
    }
}

/// The TOTP step of `now` (Unix time over 30 s).
pub fn step_of(now: DateTime<Utc>) -> i64 {
    now.timestamp().div_euclid(STEP_SECONDS)
}

/// Whether `typed` looks like a six-digit code rather than a recovery code.
pub fn looks_like_code(typed: &str) -> bool {
    let digits: Vec<u8> = typed.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits.len() == DIGITS as usize && digits.iter().all(u8::is_ascii_digit)
}

/// A fresh set of recovery codes (`xxxxx-xxxxx`, ~49 bits each), in clear to show once.
pub fn recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let pick =
                || char::from(RECOVERY_ALPHABET[OsRng.gen_range(0..RECOVERY_ALPHABET.len())]);
            let first: String = (0..5).map(|_| pick()).collect();
            let second: String = (0..5).map(|_| pick()).collect();
            format!("{first}-{second}")
        })
        .collect()
}

/// The stored form of a recovery code as typed: lowercase, no spaces or dashes, hashed.
pub fn recovery_hash(typed: &str) -> TokenHash {
    let normal: String = typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    TokenHash::of(&normal)
}

/// A user's authenticator app as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpRecord {
    /// Whose.
    pub user_id: crate::Subject,
    /// The secret.
    pub secret: TotpSecret,
    /// When a code from the app was first accepted; until then the factor does nothing.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// The last step whose code was accepted (replays of it and earlier steps are refused).
    pub last_used_step: Option<i64>,
    /// When enrolment started.
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    /// RFC 6238 Appendix B, SHA-1, truncated to six digits.
    #[test]
    fn rfc_6238_test_vectors() {
        let secret = TotpSecret(b"12345678901234567890".to_vec());
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            let now = Utc.timestamp_opt(time, 0).unwrap();
            assert_eq!(secret.code_at(now), code, "at {time}");
        }
    }

    #[test]
    fn base32_round_trips_and_reads_what_people_type() {
        let secret = TotpSecret::generate();
        let text = secret.to_base32();
        assert_eq!(text.len(), 32);
        assert_eq!(TotpSecret::from_base32(&text), Some(secret.clone()));
        let typed = secret.grouped().to_lowercase();
        assert_eq!(TotpSecret::from_base32(&typed), Some(secret));
        // RFC 4648 §10.
        assert_eq!(TotpSecret(b"foobar".to_vec()).to_base32(), "MZXW6YTBOI");
        assert_eq!(TotpSecret::from_base32("not base32 1!"), None);
        assert_eq!(
            TotpSecret::from_base32("MZXW"),
            None,
            "too short to be a secret"
        );
    }

    #[test]
    fn a_code_is_good_one_step_either_side_and_only_once() {
        let secret = TotpSecret::generate();
        let now = Utc.timestamp_opt(1_800_000_015, 0).unwrap();
        let step = step_of(now);
        let at = |s: i64| format!("{:06}", secret.code_at_step(s));
        assert_eq!(secret.verify(&at(step), now, None), Some(step));
        assert_eq!(secret.verify(&at(step - 1), now, None), Some(step - 1));
        assert_eq!(secret.verify(&at(step + 1), now, None), Some(step + 1));
        for far in [step - 2, step + 2] {
            let code = at(far);
            // A far step's code may collide with a near one's by chance (1 in 10^6): skip then.
            if (step - 1..=step + 1).all(|s| at(s) != code) {
                assert_eq!(secret.verify(&code, now, None), None, "step {far}");
            }
        }
        // Used at `step`: that code and the previous step's are refused from then on.
        assert_eq!(secret.verify(&at(step), now, Some(step)), None);
        assert_eq!(secret.verify(&at(step - 1), now, Some(step)), None);
        assert_eq!(
            secret.verify(&at(step + 1), now, Some(step)),
            Some(step + 1)
        );
        let spaced = format!("{} {}", &at(step)[..3], &at(step)[3..]);
        assert_eq!(secret.verify(&spaced, now, None), Some(step));
        for junk in ["", "12345", "1234567", "abcdef", "12345x"] {
            assert_eq!(secret.verify(junk, now, None), None, "{junk:?}");
        }
    }

    #[test]
    fn the_otpauth_uri_names_issuer_account_and_parameters() {
        let secret = TotpSecret(b"foobar-foobar-foo".to_vec());
        let uri = secret.otpauth_uri("Tessera", "alice smith");
        assert!(
            uri.starts_with("otpauth://totp/Tessera:alice%20smith?secret="),
            "{uri}"
        );
        assert!(
            uri.ends_with("&issuer=Tessera&algorithm=SHA1&digits=6&period=30"),
            "{uri}"
        );
    }

    #[test]
    fn recovery_codes_are_distinct_and_hash_as_typed() {
        let codes = recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), RECOVERY_CODES);
        let code = &codes[0];
        assert_eq!(code.len(), 11);
        assert_eq!(
            recovery_hash(code),
            recovery_hash(&code.to_uppercase().replace('-', " "))
        );
        assert_ne!(recovery_hash(code), recovery_hash(&codes[1]));
        assert!(!looks_like_code(code));
        assert!(looks_like_code("123 456"));
    }
}
