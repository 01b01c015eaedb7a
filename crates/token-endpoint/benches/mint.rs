//! What minting and checking tokens costs, through the token endpoint's own code paths:
//! an access token (RFC 9068 claims) and an ID token (openidconnect claims) per algorithm, and
//! the offline part of access-token verification (signature, alg, typ, iss, aud, exp).
//! `cargo bench -p tessera-token-endpoint --bench mint`

#![allow(clippy::unwrap_used, reason = "benchmark set-up")]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tessera_core::SigningAlg;
use tessera_token_endpoint::{
    access::verify_jws,
    mint::{AccessTokenSubject, IdTokenSubject, sample::sample},
};

fn bench(c: &mut Criterion) {
    let dir = tempfile::TempDir::new().unwrap();
    let mut s = sample(dir.path()).unwrap();
    let scopes: Vec<String> = ["openid", "profile", "email"].map(String::from).to_vec();
    for alg in SigningAlg::ALL {
        s.client.access_token_signed_alg = Some(alg);
        s.client.id_token_signed_response_alg = Some(alg);
        let about = AccessTokenSubject {
            subject: s.user.id.as_str(),
            scopes: &scopes,
            auth_time: Some(s.now),
            grant: None,
            audience: None,
            jkt: None,
        };
        c.bench_function(&format!("mint access token {alg}"), |b| {
            b.iter(|| {
                s.minter
                    .access_token(&s.client, black_box(&about), s.now)
                    .unwrap()
            })
        });
        let access = s
            .minter
            .access_token(&s.client, &about, s.now)
            .unwrap()
            .token;
        let id = IdTokenSubject {
            user: &s.user,
            scopes: &scopes,
            nonce: Some("n-0S6_WzA2Mj"),
            auth_time: Some(s.now),
            access_token: &access,
            amr: &tessera_core::amr::Amr::password(),
        };
        c.bench_function(&format!("mint ID token {alg}"), |b| {
            b.iter(|| s.minter.id_token(&s.client, black_box(&id), s.now).unwrap())
        });
        let ring = s.minter.keys().ring();
        c.bench_function(&format!("verify access token {alg}"), |b| {
            b.iter(|| {
                verify_jws(&ring, "https://issuer.example", black_box(&access), s.now).unwrap()
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
