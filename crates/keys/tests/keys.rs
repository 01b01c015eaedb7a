//! The key folder end to end: creation, signing, verification and its refusals, rotation with a
//! fake clock, passphrase encryption, several instances sharing one folder.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::{os::unix::fs::PermissionsExt, sync::Arc};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Duration;
use serde_json::{Value, json};
use tempfile::TempDir;
use tessera_core::{Clock, FakeClock, SigningAlg};
use tessera_keys::{KeyError, KeyFolder, KeyState, Keys, RotationPolicy, VerifyPolicy};

const ISSUER: &str = "https://id.example.com";
const POLICY: RotationPolicy = RotationPolicy {
    activation_delay: Duration::seconds(600),
    publish_grace: Duration::seconds(1200),
};

fn open(dir: &TempDir, clock: &FakeClock) -> Keys {
    Keys::open(KeyFolder::new(dir.path(), None), Arc::new(clock.clone())).unwrap()
}

fn claims(clock: &FakeClock, ttl: i64) -> Value {
    let now = clock.now().timestamp();
    json!({"iss": ISSUER, "sub": "alice", "aud": "api", "iat": now, "exp": now + ttl})
}

fn policy<'a>(algs: &'a [SigningAlg]) -> VerifyPolicy<'a> {
    VerifyPolicy {
        algs,
        typ: Some("at+jwt"),
        issuer: Some(ISSUER),
        audience: Some(&["api"]),
        leeway_secs: 0,
    }
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

/// Replaces one segment of a compact JWS.
fn with_segment(token: &str, index: usize, value: &Value) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[index] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap());
    parts.join(".")
}

#[test]
fn first_open_creates_one_rs256_and_one_es256_key_with_private_files_0600() {
    let dir = TempDir::new().unwrap();
    let clock = FakeClock::new();
    let keys = open(&dir, &clock);
    let folder = KeyFolder::new(dir.path(), None);
    let manifest = folder.read_manifest().unwrap();
    let algs: Vec<_> = manifest.keys.iter().map(|k| k.alg).collect();
    assert_eq!(algs, [SigningAlg::RS256, SigningAlg::ES256]);
    for entry in &manifest.keys {
        assert_eq!(entry.state(clock.now()), KeyState::Active);
        let path = dir.path().join(&entry.file);
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let pem = std::fs::read_to_string(&path).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8 PEM");
    }
    assert!(keys.ready());
    // A second start finds the keys and creates none.
    assert!(folder.ensure_keys(clock.now()).unwrap().is_empty());
}

#[test]
fn jwks_holds_public_parameters_only_and_unique_kids() {
    let dir = TempDir::new().unwrap();
    let keys = open(&dir, &FakeClock::new());
    let jwks = serde_json::to_value(keys.jwks()).unwrap();
    let list = jwks["keys"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    for key in list {
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(key.get(private).is_none(), "{private} leaked: {key}");
        }
        assert_eq!(key["use"], "sig");
    }
    assert_ne!(list[0]["kid"], list[1]["kid"]);
    assert_eq!(list[0]["kty"], "RSA");
    assert_eq!(list[1]["crv"], "P-256");
}

#[test]
fn both_algorithms_sign_and_verify_with_kid_and_typ() {
    let dir = TempDir::new().unwrap();
    let clock = FakeClock::new();
    let keys = open(&dir, &clock);
    for alg in SigningAlg::ALL {
        let token = keys.sign(alg, "at+jwt", &claims(&clock, 300)).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(format!("{:?}", header.alg), alg.as_str());
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        let got: Value = keys.verify(&token, &policy(&[alg])).unwrap();
        assert_eq!(got["sub"], "alice");
        // RFC 9068 allows the long form of the media type too.
        assert!(
            keys.verify::<Value>(
                &token,
                &VerifyPolicy {
                    typ: Some("application/AT+JWT"),
                    ..policy(&[alg])
                }
            )
            .is_ok()
        );
    }
}

#[test]
fn verification_refuses_every_classic_jwt_attack() {
    let dir = TempDir::new().unwrap();
    let clock = FakeClock::new();
    let keys = open(&dir, &clock);
    let both = SigningAlg::ALL;
    let rs = keys
        .sign(SigningAlg::RS256, "at+jwt", &claims(&clock, 300))
        .unwrap();
    let es = keys
        .sign(SigningAlg::ES256, "at+jwt", &claims(&clock, 300))
        .unwrap();
    let rs_kid = kid_of(&rs);
    let refuse = |token: &str, policy: &VerifyPolicy<'_>, why: &str| {
        let result = keys.verify::<Value>(token, policy);
        assert!(
            matches!(result, Err(KeyError::Invalid(_))),
            "{why}: {result:?}"
        );
    };

    // Tampered payload, original signature.
    let mut forged = claims(&clock, 300);
    forged["sub"] = json!("mallory");
    refuse(
        &with_segment(&rs, 1, &forged),
        &policy(&both),
        "tampered payload",
    );
    // alg none, in any spelling, signature stripped.
    for none in ["none", "None", "NONE", "nOnE"] {
        let header = json!({"alg": none, "kid": rs_kid, "typ": "at+jwt"});
        let token = with_segment(&rs, 0, &header);
        let unsigned = format!("{}.", token.rsplit_once('.').unwrap().0);
        refuse(&unsigned, &policy(&both), none);
        refuse(&token, &policy(&both), none);
    }
    // HS256 keyed with our RSA public key (algorithm confusion).
    let public_pem = {
        let jwk = keys
            .jwks()
            .keys
            .into_iter()
            .find(|k| k.alg == SigningAlg::RS256)
            .unwrap();
        format!("{}.{}", jwk.n.unwrap(), jwk.e.unwrap())
    };
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(rs_kid.clone());
    header.typ = Some("at+jwt".into());
    let hs = jsonwebtoken::encode(
        &header,
        &claims(&clock, 300),
        &jsonwebtoken::EncodingKey::from_secret(public_pem.as_bytes()),
    )
    .unwrap();
    refuse(&hs, &policy(&both), "HS256 with the public key");
    // An ES256 header on the RSA key.
    refuse(
        &with_segment(
            &rs,
            0,
            &json!({"alg": "ES256", "kid": rs_kid, "typ": "at+jwt"}),
        ),
        &policy(&both),
        "alg swap",
    );
    // Unknown kid, and no kid.
    refuse(
        &with_segment(
            &rs,
            0,
            &json!({"alg": "RS256", "kid": "nope", "typ": "at+jwt"}),
        ),
        &policy(&both),
        "unknown kid",
    );
    refuse(
        &with_segment(&rs, 0, &json!({"alg": "RS256", "typ": "at+jwt"})),
        &policy(&both),
        "no kid",
    );
    // Algorithm outside the allow-list.
    refuse(&es, &policy(&[SigningAlg::RS256]), "ES256 not allowed");
    // Wrong typ: an ID token is not an access token.
    let id_token = keys
        .sign(SigningAlg::RS256, "JWT", &claims(&clock, 300))
        .unwrap();
    refuse(&id_token, &policy(&both), "typ JWT");
    // Wrong issuer / audience.
    refuse(
        &rs,
        &VerifyPolicy {
            issuer: Some("https://evil.example"),
            ..policy(&both)
        },
        "issuer",
    );
    refuse(
        &rs,
        &VerifyPolicy {
            audience: Some(&["other"]),
            ..policy(&both)
        },
        "audience",
    );
    // Expired (and exactly at exp: RFC 7519 §4.1.4 "on or after").
    clock.advance(Duration::seconds(300));
    refuse(&rs, &policy(&both), "expired");
    // Missing exp.
    let no_exp = keys
        .sign(
            SigningAlg::RS256,
            "at+jwt",
            &json!({"iss": ISSUER, "aud": "api"}),
        )
        .unwrap();
    refuse(&no_exp, &policy(&both), "no exp");
    // Garbage.
    refuse("not.a.jwt", &policy(&both), "garbage");
    refuse("", &policy(&both), "empty");
}

#[tokio::test]
async fn rotation_publishes_before_signing_and_unpublishes_after_tokens_expire() {
    let dir = TempDir::new().unwrap();
    let clock = FakeClock::new();
    let keys = open(&dir, &clock);
    let t0 = clock.now();
    let old_token = keys
        .sign(SigningAlg::ES256, "at+jwt", &claims(&clock, 900))
        .unwrap();
    let old_kid = kid_of(&old_token);

    // Another process (the CLI) rotates; this instance notices the changed manifest.
    let new = KeyFolder::new(dir.path(), None)
        .rotate(SigningAlg::ES256, t0, POLICY)
        .unwrap();
    assert!(keys.reload_if_changed().await.unwrap());
    assert!(
        !keys.reload_if_changed().await.unwrap(),
        "no change, no reload"
    );
    let published = |keys: &Keys| {
        keys.jwks()
            .keys
            .into_iter()
            .map(|k| k.kid.into_inner())
            .collect::<Vec<_>>()
    };

    // Published at once, but the old key still signs.
    assert!(published(&keys).contains(&new.kid.as_str().to_owned()));
    let before = keys
        .sign(SigningAlg::ES256, "at+jwt", &claims(&clock, 900))
        .unwrap();
    assert_eq!(kid_of(&before), old_kid);

    // At activation the new key signs; the old one is retired but still published and verifying.
    clock.set(t0 + POLICY.activation_delay);
    let after = keys
        .sign(SigningAlg::ES256, "at+jwt", &claims(&clock, 900))
        .unwrap();
    assert_eq!(kid_of(&after), new.kid.as_str());
    assert!(published(&keys).contains(&old_kid));
    assert!(
        keys.verify::<Value>(&old_token, &policy(&[SigningAlg::ES256]))
            .is_ok()
    );
    let states: Vec<_> = keys
        .ring()
        .keys()
        .filter(|k| k.entry().alg == SigningAlg::ES256)
        .map(|k| k.entry().state(clock.now()))
        .collect();
    assert_eq!(states, [KeyState::Retired, KeyState::Active]);

    // Published until the grace is over, then gone.
    clock.set(t0 + POLICY.activation_delay + POLICY.publish_grace - Duration::seconds(1));
    assert!(published(&keys).contains(&old_kid));
    clock.advance(Duration::seconds(1));
    assert!(!published(&keys).contains(&old_kid));
    assert!(published(&keys).contains(&new.kid.as_str().to_owned()));
    // RS256 was never touched.
    assert_eq!(
        keys.jwks()
            .keys
            .iter()
            .filter(|k| k.alg == SigningAlg::RS256)
            .count(),
        1
    );
}

#[test]
fn passphrase_encrypts_keys_at_rest() {
    let dir = TempDir::new().unwrap();
    let clock = FakeClock::new();
    let folder = KeyFolder::new(dir.path(), Some("correct horse battery staple".into()));
    let keys = Keys::open(folder.clone(), Arc::new(clock.clone())).unwrap();
    let token = keys
        .sign(SigningAlg::RS256, "at+jwt", &claims(&clock, 60))
        .unwrap();
    for entry in folder.read_manifest().unwrap().keys {
        let pem = std::fs::read_to_string(dir.path().join(&entry.file)).unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    }
    // The same passphrase opens it again and the keys are the same.
    let again = KeyFolder::new(dir.path(), Some("correct horse battery staple".into()))
        .load()
        .unwrap();
    assert!(
        again
            .verify::<Value>(&token, &policy(&[SigningAlg::RS256]), clock.now())
            .is_ok()
    );
    // Without it, or with a wrong one, loading fails with a message that says so.
    let err = KeyFolder::new(dir.path(), None)
        .load()
        .unwrap_err()
        .to_string();
    assert!(err.contains("no passphrase is configured"), "{err}");
    let err = KeyFolder::new(dir.path(), Some("wrong".into()))
        .load()
        .unwrap_err()
        .to_string();
    assert!(err.contains("wrong passphrase"), "{err}");
}

#[test]
fn instances_starting_at_once_on_an_empty_shared_folder_create_one_key_per_algorithm() {
    let dir = TempDir::new().unwrap();
    let clock = FakeClock::new();
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let path = dir.path().to_owned();
            let clock = clock.clone();
            std::thread::spawn(move || {
                Keys::open(KeyFolder::new(path, None), Arc::new(clock)).map(|k| k.jwks())
            })
        })
        .collect();
    let sets: Vec<_> = threads
        .into_iter()
        .map(|t| t.join().unwrap().unwrap())
        .collect();
    assert_eq!(sets[0].keys.len(), 2);
    assert!(
        sets.iter().all(|set| set == &sets[0]),
        "every instance sees the same keys"
    );
    let files = std::fs::read_dir(dir.path()).unwrap().filter(|e| {
        e.as_ref()
            .unwrap()
            .path()
            .extension()
            .is_some_and(|ext| ext == "pem")
    });
    assert_eq!(files.count(), 2);
}

#[test]
fn a_folder_that_is_a_file_or_a_damaged_manifest_is_a_clear_error() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, "x").unwrap();
    let err = Keys::open(KeyFolder::new(&file, None), Arc::new(FakeClock::new()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not-a-folder"), "{err}");

    let damaged = TempDir::new().unwrap();
    std::fs::write(damaged.path().join("manifest.json"), "{ not json").unwrap();
    let err = KeyFolder::new(damaged.path(), None)
        .load()
        .unwrap_err()
        .to_string();
    assert!(err.contains("invalid manifest"), "{err}");
}
