//! The browser half of the code flow in-process (`tessera_testkit::in_process`: the same App the
//! server runs, through `actix_web::test`, no socket), the cookies kept like a browser's.

use std::{collections::HashMap, sync::Arc};

use actix_web::http::StatusCode;
use tempfile::TempDir;
use tessera_core::{
    Clock, SystemClock,
    secret::TokenHash,
    store::{CodeRepo, Consumption},
};
use tessera_testkit::{
    html::hidden_fields,
    in_process::{self, location, text},
};

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

#[actix_web::test]
async fn code_flow_in_process() {
    let dir = TempDir::new().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let state = in_process::state(&dir, clock, |_| {}).await;
    tessera_testkit::fixtures::user(&state, "alice", "correct horse battery").await;
    tessera_testkit::fixtures::client(&state, "rp", &["http://127.0.0.1:51004/cb"]).await;
    let mut app = in_process::start(state.clone()).await;

    let authorize = format!(
        "/authorize?response_type=code&client_id=rp&redirect_uri=http%3A%2F%2F127.0.0.1%3A51004%2Fcb\
         &scope=openid&state=in-process&nonce=n1&code_challenge={CHALLENGE}&code_challenge_method=S256"
    );
    let response = app.get(&authorize).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let response = app.get(&location(&response)).await;
    let mut form = hidden_fields(&text(response).await);
    form.push(("username".into(), "alice".into()));
    form.push(("password".into(), "correct horse battery".into()));
    let response = app.post_form("/login", &form).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = app.get(&location(&response)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut form = hidden_fields(&text(response).await);
    form.push(("decision".into(), "approve".into()));
    let response = app.post_form("/authorize/decision", &form).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let callback = url::Url::parse(&location(&response)).unwrap();
    let params: HashMap<String, String> = callback.query_pairs().into_owned().collect();
    assert_eq!(params["state"], "in-process");
    assert_eq!(params["iss"], "http://127.0.0.1:8080");
    let Consumption::Consumed(record) = state
        .store
        .consume_code(&TokenHash::of(&params["code"]), state.clock.now())
        .await
        .unwrap()
    else {
        panic!("code not redeemable");
    };
    assert_eq!(record.code_challenge.as_deref(), Some(CHALLENGE));
    assert_eq!(record.nonce.as_deref(), Some("n1"));
}
