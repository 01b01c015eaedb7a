//! DPoP (RFC 9449): proofs made here with ES256 and RS256 keys of the test's own, tokens bound to
//! them (`token_type: DPoP`, `cnf.jkt`), `/userinfo` demanding a proof of the bound key with the
//! token's hash, public clients' refresh tokens bound, `dpop_jkt` binding a code, server nonces,
//! and every refusal — wrong `htu`/`htm`, replayed `jti` (on two instances), stale `iat`, wrong
//! key, missing `ath`, private key material.

use std::sync::Arc;

use chrono::Duration;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tempfile::TempDir;
use tessera_core::{
    FakeClock, SystemClock,
    grant_type::GrantType,
    secret::{PlainToken, random_id},
    store::{ClientAuthMethod, ClientRecord},
};
use tessera_keys::{KeyFolder, Keys};
use tessera_testkit::{
    TestApp,
    tokens::{Answer, answer, client_with, issue_code, payload},
};

use crate::code_flow::PASSWORD;

/// A key of the client's own, to prove possession of.
pub(crate) struct ProofKey {
    alg: Algorithm,
    encoding: EncodingKey,
    /// The public JWK (as published, with `kid`, `use` and `alg`).
    pub(crate) jwk: Value,
    /// Its RFC 7638 thumbprint.
    pub(crate) jkt: String,
}

/// An ES256 and an RS256 key, generated in a folder of their own.
pub(crate) fn proof_keys() -> (ProofKey, ProofKey, TempDir) {
    let dir = TempDir::new().unwrap();
    let keys = Keys::open(KeyFolder::new(dir.path(), None), Arc::new(SystemClock)).unwrap();
    let jwks = serde_json::to_value(keys.jwks()).unwrap();
    let mut es256 = None;
    let mut rs256 = None;
    for jwk in jwks["keys"].as_array().unwrap() {
        let kid = jwk["kid"].as_str().unwrap();
        let pem = std::fs::read(dir.path().join(format!("{kid}.pem"))).unwrap();
        let jkt = tessera_keys::jwk_thumbprint(jwk).unwrap();
        match jwk["kty"].as_str().unwrap() {
            "EC" => {
                es256 = Some(ProofKey {
                    alg: Algorithm::ES256,
                    encoding: EncodingKey::from_ec_pem(&pem).unwrap(),
                    jwk: jwk.clone(),
                    jkt,
                });
            }
            _ => {
                rs256 = Some(ProofKey {
                    alg: Algorithm::RS256,
                    encoding: EncodingKey::from_rsa_pem(&pem).unwrap(),
                    jwk: jwk.clone(),
                    jkt,
                });
            }
        }
    }
    (es256.unwrap(), rs256.unwrap(), dir)
}

/// A proof's parts; [`Proof::sign`] makes the JWT.
#[derive(Clone)]
pub(crate) struct Proof {
    pub(crate) htm: &'static str,
    pub(crate) htu: String,
    pub(crate) iat: i64,
    pub(crate) jti: String,
    pub(crate) ath: Option<String>,
    pub(crate) nonce: Option<String>,
    pub(crate) typ: &'static str,
    pub(crate) header_jwk: Option<Value>,
}

impl Proof {
    /// A fresh proof for `htm` at `path` of `app`, issued now.
    pub(crate) fn new(app: &TestApp, htm: &'static str, path: &str) -> Self {
        Self {
            htm,
            htu: app.url(path),
            iat: app.state.clock.now().timestamp(),
            jti: random_id(),
            ath: None,
            nonce: None,
            typ: "dpop+jwt",
            header_jwk: None,
        }
    }

    /// With the `ath` of `access_token`.
    pub(crate) fn for_token(mut self, access_token: &str) -> Self {
        self.ath = Some(tessera_token_endpoint::dpop::access_token_hash(
            access_token,
        ));
        self
    }

    pub(crate) fn sign(&self, key: &ProofKey) -> String {
        let mut header = Header::new(key.alg);
        header.typ = Some(self.typ.to_owned());
        let jwk = self.header_jwk.clone().unwrap_or_else(|| key.jwk.clone());
        let mut claims = json!({
            "htm": self.htm, "htu": self.htu, "iat": self.iat, "jti": self.jti,
        });
        if let Some(ath) = &self.ath {
            claims["ath"] = json!(ath);
        }
        if let Some(nonce) = &self.nonce {
            claims["nonce"] = json!(nonce);
        }
        // The header by hand: jsonwebtoken's Jwk type would drop members a test adds.
        let mut header_json = serde_json::to_value(&header).unwrap();
        header_json["jwk"] = jwk;
        let b64 = |v: &Value| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let message = format!("{}.{}", b64(&header_json), b64(&claims));
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &key.encoding, key.alg).unwrap();
        format!("{message}.{signature}")
    }
}

/// POSTs `form` to `/token` with the given `DPoP` headers, as `client` (Basic when it has a
/// secret, else by `client_id`).
pub(crate) async fn token_with(
    app: &TestApp,
    client: &(ClientRecord, PlainToken),
    proofs: &[String],
    form: &[(&str, &str)],
) -> Answer {
    let mut form = form.to_vec();
    let mut request = app.http.post(app.url("/token"));
    if client.0.token_endpoint_auth_method == ClientAuthMethod::None {
        form.push(("client_id", client.0.client_id.as_str()));
    } else {
        request = request.basic_auth(client.0.client_id.as_str(), Some(client.1.expose()));
    }
    for proof in proofs {
        request = request.header("DPoP", proof);
    }
    answer(request.form(&form).send().await.unwrap()).await
}

async fn userinfo_with(app: &TestApp, scheme: &str, token: &str, proof: Option<&str>) -> Answer {
    let mut request = app
        .http
        .get(app.url("/userinfo"))
        .header("Authorization", format!("{scheme} {token}"));
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    answer(request.send().await.unwrap()).await
}

fn service(app: &TestApp) -> impl std::future::Future<Output = (ClientRecord, PlainToken)> + '_ {
    client_with(app, "service", |c| {
        c.grant_types = vec![GrantType::ClientCredentials];
        c.scopes = vec!["api.read".into()];
    })
}

async fn spa(app: &TestApp) -> (ClientRecord, PlainToken) {
    client_with(app, "spa", |c| {
        c.token_endpoint_auth_method = ClientAuthMethod::None;
        c.secret_hash = None;
    })
    .await
}

fn www_authenticate(answer: &Answer) -> &str {
    answer.headers["www-authenticate"].to_str().unwrap()
}

#[tokio::test]
async fn a_public_clients_tokens_are_bound_to_its_key_at_userinfo_and_on_refresh() {
    let app = TestApp::spawn().await;
    let alice = app.with_user("alice", PASSWORD, false).await;
    let spa = spa(&app).await;
    let monitor = client_with(&app, "monitor", |_| {}).await;
    let (key, other_key, _dir) = proof_keys();

    let (code, verifier) = issue_code(&app, &spa.0, &alice, &["openid", "offline_access"]).await;
    let redeem = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", tessera_testkit::flow::REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let proof = Proof::new(&app, "POST", "/token").sign(&key);
    let tokens = token_with(&app, &spa, &[proof], &redeem).await;
    assert_eq!(tokens.status, 200, "{:?}", tokens.body);
    assert_eq!(tokens.body["token_type"], "DPoP");
    let access = tokens.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(payload(&access)["cnf"]["jkt"], key.jkt);
    let seen = tessera_testkit::tokens::introspect(&app, &monitor, &access).await;
    assert_eq!(seen["token_type"], "DPoP");
    assert_eq!(seen["cnf"]["jkt"], key.jkt);

    // /userinfo: only as DPoP, with a proof of that key carrying the token's hash.
    let bearer = userinfo_with(&app, "Bearer", &access, None).await;
    assert_eq!(bearer.status, 401, "a bound token as bearer");
    assert!(
        www_authenticate(&bearer).starts_with("DPoP "),
        "{:?}",
        bearer.headers
    );
    let none = userinfo_with(&app, "DPoP", &access, None).await;
    assert_eq!(none.status, 401);
    assert!(www_authenticate(&none).contains(r#"error="invalid_dpop_proof""#));
    let no_ath = Proof::new(&app, "GET", "/userinfo").sign(&key);
    assert_eq!(
        userinfo_with(&app, "DPoP", &access, Some(&no_ath))
            .await
            .status,
        401,
        "no ath"
    );
    let wrong_key = Proof::new(&app, "GET", "/userinfo")
        .for_token(&access)
        .sign(&other_key);
    assert_eq!(
        userinfo_with(&app, "DPoP", &access, Some(&wrong_key))
            .await
            .status,
        401,
        "wrong key"
    );
    let wrong_method = Proof::new(&app, "POST", "/userinfo")
        .for_token(&access)
        .sign(&key);
    assert_eq!(
        userinfo_with(&app, "DPoP", &access, Some(&wrong_method))
            .await
            .status,
        401,
        "htm"
    );
    let good = Proof::new(&app, "GET", "/userinfo")
        .for_token(&access)
        .sign(&key);
    let claims = userinfo_with(&app, "DPoP", &access, Some(&good)).await;
    assert_eq!(claims.status, 200, "{:?}", claims.body);
    let replayed = userinfo_with(&app, "DPoP", &access, Some(&good)).await;
    assert_eq!(replayed.status, 401, "the same proof twice");

    // The refresh token is bound too (a public client's, RFC 9449 §5).
    let refresh = tokens.body["refresh_token"].as_str().unwrap().to_owned();
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];
    token_with(&app, &spa, &[], &form).await.assert_error(
        400,
        "invalid_grant",
        "a bound refresh token without a proof",
    );
    let by_other = Proof::new(&app, "POST", "/token").sign(&other_key);
    token_with(&app, &spa, &[by_other], &form)
        .await
        .assert_error(400, "invalid_grant", "another key");
    let proof = Proof::new(&app, "POST", "/token").sign(&key);
    let rotated = token_with(&app, &spa, &[proof], &form).await;
    assert_eq!(
        rotated.status, 200,
        "the refusals did not use it up: {:?}",
        rotated.body
    );
    assert_eq!(rotated.body["token_type"], "DPoP");
}

#[tokio::test]
async fn bad_proofs_at_the_token_endpoint_are_invalid_dpop_proof() {
    let app = TestApp::spawn().await;
    let service = service(&app).await;
    let (es256, rs256, _dir) = proof_keys();
    let form = [("grant_type", "client_credentials")];
    let now = app.state.clock.now().timestamp();
    let base = || Proof::new(&app, "POST", "/token");
    let mut private = rs256.jwk.clone();
    private["d"] = json!("AQAB");
    let cases: Vec<(&str, String)> = vec![
        (
            "wrong htu",
            Proof {
                htu: app.url("/introspect"),
                ..base()
            }
            .sign(&es256),
        ),
        (
            "wrong htm",
            Proof {
                htm: "GET",
                ..base()
            }
            .sign(&es256),
        ),
        (
            "stale iat",
            Proof {
                iat: now - 301,
                ..base()
            }
            .sign(&es256),
        ),
        (
            "iat ahead",
            Proof {
                iat: now + 60,
                ..base()
            }
            .sign(&es256),
        ),
        (
            "wrong typ",
            Proof {
                typ: "JWT",
                ..base()
            }
            .sign(&es256),
        ),
        (
            "private jwk",
            Proof {
                header_jwk: Some(private),
                ..base()
            }
            .sign(&rs256),
        ),
        (
            "another key's jwk",
            Proof {
                header_jwk: Some(es256.jwk.clone()),
                ..base()
            }
            .sign(&rs256),
        ),
        ("not a JWT", "not.a.jwt".to_owned()),
    ];
    for (what, proof) in cases {
        token_with(&app, &service, &[proof], &form)
            .await
            .assert_error(400, "invalid_dpop_proof", what);
    }
    let two = [base().sign(&es256), base().sign(&es256)];
    token_with(&app, &service, &two, &form).await.assert_error(
        400,
        "invalid_dpop_proof",
        "two DPoP headers",
    );

    // Both algorithms are taken; a jti is good once.
    for key in [&es256, &rs256] {
        let proof = base().sign(key);
        let bound = token_with(&app, &service, std::slice::from_ref(&proof), &form).await;
        assert_eq!(bound.status, 200, "{:?}", bound.body);
        assert_eq!(bound.body["token_type"], "DPoP");
        let access = bound.body["access_token"].as_str().unwrap();
        assert_eq!(payload(access)["cnf"]["jkt"], key.jkt);
        token_with(&app, &service, &[proof], &form)
            .await
            .assert_error(400, "invalid_dpop_proof", "a replayed jti");
    }
    // Without a proof: a bearer token, as before.
    let plain = token_with(&app, &service, &[], &form).await;
    assert_eq!(plain.body["token_type"], "Bearer");
    assert_eq!(
        payload(plain.body["access_token"].as_str().unwrap()).get("cnf"),
        None
    );
}

#[tokio::test]
async fn a_client_registered_for_dpop_and_a_code_bound_by_dpop_jkt_need_the_key() {
    let app = TestApp::spawn().await;
    let alice = app.with_user("alice", PASSWORD, false).await;
    let (key, other_key, _dir) = proof_keys();
    let strict = client_with(&app, "strict", |c| {
        c.grant_types = vec![GrantType::ClientCredentials];
        c.scopes = vec!["api.read".into()];
        c.dpop_bound_access_tokens = true;
    })
    .await;
    let form = [("grant_type", "client_credentials")];
    token_with(&app, &strict, &[], &form).await.assert_error(
        400,
        "invalid_dpop_proof",
        "dpop_bound_access_tokens without a proof",
    );
    let proof = Proof::new(&app, "POST", "/token").sign(&key);
    assert_eq!(
        token_with(&app, &strict, &[proof], &form).await.body["token_type"],
        "DPoP"
    );

    // A code issued for a dpop_jkt (RFC 9449 §10) is redeemed only with that key's proof.
    let web = client_with(&app, "web", |_| {}).await;
    let (code, verifier) = issue_code(&app, &web.0, &alice, &["openid"]).await;
    let hash = tessera_core::secret::TokenHash::of(&code);
    {
        use sea_orm::{ConnectionTrait, Statement};
        let conn = app.state.store.connection();
        conn.execute_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            match conn.get_database_backend() {
                sea_orm::DatabaseBackend::Postgres => {
                    "UPDATE authorization_codes SET dpop_jkt = $1 WHERE code_hash = $2"
                }
                _ => "UPDATE authorization_codes SET dpop_jkt = ? WHERE code_hash = ?",
            },
            [key.jkt.clone().into(), hash.as_str().into()],
        ))
        .await
        .unwrap();
    }
    let redeem = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", tessera_testkit::flow::REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    token_with(&app, &web, &[], &redeem).await.assert_error(
        400,
        "invalid_grant",
        "no proof for a bound code",
    );
    let by_other = Proof::new(&app, "POST", "/token").sign(&other_key);
    token_with(&app, &web, &[by_other], &redeem)
        .await
        .assert_error(400, "invalid_grant", "another key for a bound code");
    let proof = Proof::new(&app, "POST", "/token").sign(&key);
    let tokens = token_with(&app, &web, &[proof], &redeem).await;
    assert_eq!(
        tokens.status, 200,
        "not used up by the refusals: {:?}",
        tokens.body
    );
    assert_eq!(tokens.body["token_type"], "DPoP");
}

#[tokio::test]
async fn server_nonces_are_required_when_configured_and_expire() {
    let clock = FakeClock::at(tessera_core::Clock::now(&SystemClock));
    let app = TestApp::builder()
        .with_clock(clock.clone())
        .with_config(|c| c.dpop_nonce = true)
        .spawn()
        .await;
    let service = service(&app).await;
    let (key, _, _dir) = proof_keys();
    let form = [("grant_type", "client_credentials")];
    let first = token_with(
        &app,
        &service,
        &[Proof::new(&app, "POST", "/token").sign(&key)],
        &form,
    )
    .await;
    first.assert_error(400, "use_dpop_nonce", "no nonce");
    let nonce = first.headers["dpop-nonce"].to_str().unwrap().to_owned();
    let with_nonce = Proof {
        nonce: Some(nonce.clone()),
        ..Proof::new(&app, "POST", "/token")
    };
    let granted = token_with(&app, &service, &[with_nonce.sign(&key)], &form).await;
    assert_eq!(granted.status, 200, "{:?}", granted.body);
    assert!(
        granted.headers.contains_key("dpop-nonce"),
        "the next nonce comes with the answer"
    );
    let forged = Proof {
        nonce: Some("made-up".into()),
        ..Proof::new(&app, "POST", "/token")
    };
    token_with(&app, &service, &[forged.sign(&key)], &form)
        .await
        .assert_error(400, "use_dpop_nonce", "a nonce not ours");
    clock.advance(Duration::seconds(301));
    let stale = Proof {
        nonce: Some(nonce),
        ..Proof::new(&app, "POST", "/token")
    };
    token_with(&app, &service, &[stale.sign(&key)], &form)
        .await
        .assert_error(400, "use_dpop_nonce", "an expired nonce");
}

#[tokio::test]
async fn a_proof_used_at_one_instance_is_refused_at_the_other() {
    let first = TestApp::spawn().await;
    let issuer = first.issuer.clone();
    // One issuer for both (as behind one load balancer), so a proof's htu is good at either.
    let second = TestApp::builder()
        .sharing_with(&first)
        .with_config(move |c| c.issuer = issuer)
        .spawn()
        .await;
    let service = service(&first).await;
    let (key, _, _dir) = proof_keys();
    let form = [("grant_type", "client_credentials")];
    let proof = Proof {
        htu: format!("{}/token", first.issuer),
        ..Proof::new(&first, "POST", "/token")
    }
    .sign(&key);
    let once = token_with(&first, &service, std::slice::from_ref(&proof), &form).await;
    assert_eq!(once.status, 200, "{:?}", once.body);
    token_with(&second, &service, &[proof], &form)
        .await
        .assert_error(
            400,
            "invalid_dpop_proof",
            "the jti was used at the other instance",
        );
}
