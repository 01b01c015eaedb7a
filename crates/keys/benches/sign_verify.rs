//! What one JWS costs through tessera-keys (jsonwebtoken on aws-lc-rs): sign and verify, per alg.
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
    c.bench_function("render JWKS", |b| {
        b.iter(|| serde_json::to_vec(&keys.jwks()).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
