//! The floor of a token endpoint on this stack, for `bench/load.py` (issue 12): an actix-web
//! server that answers `POST /token` with an access token signed by our key code
//! (`tessera_keys`, aws-lc-rs) and does nothing else — no client authentication, no form
//! parsing, no middleware, no logging, no metrics. What it reaches pinned to one core is the most
//! any actix-web token endpoint can reach there: Tessera's own work is the distance to it.
//!
//! Not part of the product; built by `scripts/load` (`cargo build --release --example floor`).
//!
//! ```text
//! floor serve ADDR KEYS_DIR                     answer POST /token (ES256), /token-rs256, /token-unsigned
//! floor sign-rate KEYS_DIR RS256|ES256 SECONDS   sign the same claims in a loop, print signatures/s
//! ```
//!
//! `/token-unsigned` answers a fixed token of the same size: actix-web and the kernel alone.
//! `GET /.well-known/openid-configuration` names the three endpoints (`token_endpoint`,
//! `token_endpoint_rs256`, `token_endpoint_unsigned`) so the bench's server harness finds them
//! the same way as the real servers' endpoints.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use actix_web::{App, HttpResponse, HttpServer, http::header, web};
use serde::Serialize;
use tessera_core::{Clock, SigningAlg, clock::SystemClock, secret::random_id};
use tessera_keys::{KeyFolder, Keys};

/// The claims of an RFC 9068 access token, the same fields and sizes as Tessera's.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    client_id: &'a str,
    scope: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
}

struct Floor {
    keys: Keys,
    issuer: String,
}

fn token(floor: &Floor, alg: Option<SigningAlg>) -> String {
    let now = SystemClock.now().timestamp();
    let claims = Claims {
        iss: &floor.issuer,
        sub: "0f8b2f7c5b1e4c0c9d4b3f6a1e2d3c4b",
        aud: &floor.issuer,
        client_id: "0f8b2f7c5b1e4c0c9d4b3f6a1e2d3c4b",
        scope: "api.read",
        iat: now,
        nbf: now,
        exp: now + 3600,
        jti: random_id(),
    };
    match alg {
        Some(alg) => floor
            .keys
            .sign(alg, "at+jwt", &claims)
            .unwrap_or_else(|err| format!("error: {err}")),
        None => "x".repeat(480),
    }
}

fn token_response(floor: &Floor, alg: Option<SigningAlg>) -> HttpResponse {
    let body = format!(
        r#"{{"access_token":"{}","token_type":"Bearer","expires_in":3600,"scope":"api.read"}}"#,
        token(floor, alg)
    );
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("application/json")
        .body(body)
}

async fn es256(floor: web::Data<Floor>, _body: web::Bytes) -> HttpResponse {
    token_response(&floor, Some(SigningAlg::ES256))
}

async fn rs256(floor: web::Data<Floor>, _body: web::Bytes) -> HttpResponse {
    token_response(&floor, Some(SigningAlg::RS256))
}

async fn unsigned(floor: web::Data<Floor>, _body: web::Bytes) -> HttpResponse {
    token_response(&floor, None)
}

async fn discovery(floor: web::Data<Floor>) -> HttpResponse {
    let at = |path: &str| format!("{}{path}", floor.issuer);
    HttpResponse::Ok().json(serde_json::json!({
        "token_endpoint": at("/token"),
        "token_endpoint_rs256": at("/token-rs256"),
        "token_endpoint_unsigned": at("/token-unsigned"),
    }))
}

fn alg(name: &str) -> Option<SigningAlg> {
    match name {
        "RS256" => Some(SigningAlg::RS256),
        "ES256" => Some(SigningAlg::ES256),
        _ => None,
    }
}

fn open_keys(dir: &str) -> std::io::Result<Keys> {
    Keys::open(KeyFolder::new(dir, None), Arc::new(SystemClock)).map_err(std::io::Error::other)
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["serve", addr, keys] => {
            let floor = web::Data::new(Floor {
                keys: open_keys(keys)?,
                issuer: format!("http://{addr}"),
            });
            let addr = addr.to_string();
            actix_web::rt::System::new().block_on(async move {
                HttpServer::new(move || {
                    App::new()
                        .app_data(floor.clone())
                        .route("/token", web::post().to(es256))
                        .route("/token-rs256", web::post().to(rs256))
                        .route("/token-unsigned", web::post().to(unsigned))
                        .route(
                            "/.well-known/openid-configuration",
                            web::get().to(discovery),
                        )
                })
                .bind(addr)?
                .run()
                .await
            })
        }
        ["sign-rate", keys, which, seconds] => {
            let floor = Floor {
                keys: open_keys(keys)?,
                issuer: "http://127.0.0.1".into(),
            };
            let alg = alg(which);
            let span = Duration::from_secs(seconds.parse().unwrap_or(3));
            let (start, mut n) = (Instant::now(), 0u64);
            while start.elapsed() < span {
                std::hint::black_box(token(&floor, alg));
                n += 1;
            }
            println!("{:.1}", n as f64 / start.elapsed().as_secs_f64());
            Ok(())
        }
        _ => {
            eprintln!(
                "usage: floor serve ADDR KEYS_DIR | floor sign-rate KEYS_DIR RS256|ES256 SECONDS"
            );
            std::process::exit(2)
        }
    }
}
