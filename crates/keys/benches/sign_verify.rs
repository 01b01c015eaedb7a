//! What one JWS costs through tessera-keys (aws-lc-rs key pairs parsed once; verification by
//! jsonwebtoken on aws-lc-rs): sign and verify, per alg, and a raw RSA-2048 signature for scale.
//! `cargo bench -p tessera-keys --bench sign_verify`

#![allow(clippy::unwrap_used, reason = "benchmark set-up")]

use std::{hint::black_box, sync::Arc};

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use tessera_core::{Clock, FakeClock, SigningAlg};
use tessera_keys::{KeyFolder, Keys, VerifyPolicy};

fn bench(c: &mut Criterion) {
    let dir = tempfile::TempDir::new().unwrap();
    let clock = FakeClock::new();
    let keys = Keys::open(KeyFolder::new(dir.path(), None), Arc::new(clock.clone())).unwrap();
    let now = clock.now().timestamp();
    let claims = json!({
        "iss": "https://id.example.com", "sub": "248289761001", "aud": "https://api.example.com",
        "client_id": "s6BhdRkqt3", "scope": "openid profile", "jti": "dbe39bf3a3ba4238a513f51d6e1691c4",
        "iat": now, "exp": now + 900,
    });
    for alg in SigningAlg::ALL {
        c.bench_function(&format!("sign access token {alg}"), |b| {
            b.iter(|| keys.sign(alg, "at+jwt", black_box(&claims)).unwrap())
        });
        let token = keys.sign(alg, "at+jwt", &claims).unwrap();
        let algs = [alg];
        let policy = VerifyPolicy {
            algs: &algs,
            typ: Some("at+jwt"),
            issuer: Some("https://id.example.com"),
            audience: Some(&["https://api.example.com"]),
            leeway_secs: 0,
        };
        c.bench_function(&format!("verify access token {alg}"), |b| {
            b.iter(|| keys.verify::<Value>(black_box(&token), &policy).unwrap())
        });
    }
    // The reference for scripts/load: one raw RSA-2048 PKCS#1 v1.5 SHA-256 signature with
    // aws-lc-rs (the library every Tessera signature uses), no JSON, no base64.
    let rsa = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let message = [7u8; 400];
    let mut signature = vec![0; rsa.public_modulus_len()];
    c.bench_function("raw RSA-2048 sign", |b| {
        b.iter(|| {
            rsa.sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &rng,
                black_box(&message),
                &mut signature,
            )
            .unwrap()
        })
    });
    c.bench_function("render JWKS", |b| {
        b.iter(|| serde_json::to_vec(&keys.jwks()).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
