//! The browser half of the code flow in-process (`actix_web::test`, no socket): the same App the
//! server runs, driven request by request with the cookies carried by hand.

use std::{collections::HashMap, sync::Arc};

use actix_web::{
    cookie::Cookie,
    http::{StatusCode, header},
    test,
};
use tempfile::TempDir;
use tessera_core::{
    Clock, SystemClock,
    secret::TokenHash,
    store::{CodeRepo, Consumption},
};
use tessera_server::{AppState, Config, build_app, config::RawConfig};
use tessera_testkit::html::hidden_fields;

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

#[actix_web::test]
async fn code_flow_in_process() {
    let dir = TempDir::new().unwrap();
    let raw = RawConfig {
        database_url: tessera_storage::testing::fresh_database_url(dir.path()).await,
        keys_dir: dir.path().join("keys"),
        ..RawConfig::default()
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let state = AppState::init(Config::validate(raw).unwrap(), clock)
        .await
        .unwrap();
    tessera_testkit::fixtures::user(&state, "alice", "correct horse battery").await;
    tessera_testkit::fixtures::client(&state, "rp", &["http://127.0.0.1:51004/cb"]).await;
    let app = test::init_service(build_app(state.clone())).await;

    let mut jar: HashMap<String, String> = HashMap::new();
    let cookie_header = |jar: &HashMap<String, String>| {
        jar.iter()
            .map(|(k, v)| Cookie::new(k.clone(), v.clone()).to_string())
            .collect::<Vec<_>>()
            .join("; ")
    };
    macro_rules! send {
        ($request:expr) => {{
            let response = test::call_service(
                &app,
                $request
                    .insert_header((header::COOKIE, cookie_header(&jar)))
                    .to_request(),
            )
            .await;
            for cookie in response.response().cookies() {
                if cookie.value().is_empty() {
                    jar.remove(cookie.name());
                } else {
                    jar.insert(cookie.name().to_owned(), cookie.value().to_owned());
                }
            }
            response
        }};
    }

    let authorize = format!(
        "/authorize?response_type=code&client_id=rp&redirect_uri=http%3A%2F%2F127.0.0.1%3A51004%2Fcb\
         &scope=openid&state=in-process&nonce=n1&code_challenge={CHALLENGE}&code_challenge_method=S256"
    );
    let response = send!(test::TestRequest::get().uri(&authorize));
    assert_eq!(response.status(), StatusCode::FOUND);
    let login = location(&response);
    let response = send!(test::TestRequest::get().uri(&login));
    let page = String::from_utf8(test::read_body(response).await.to_vec()).unwrap();
    let mut form = hidden_fields(&page);
    form.push(("username".into(), "alice".into()));
    form.push(("password".into(), "correct horse battery".into()));
    let response = send!(test::TestRequest::post().uri("/login").set_form(&form));
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let back = location(&response);
    let response = send!(test::TestRequest::get().uri(&back));
    assert_eq!(response.status(), StatusCode::OK);
    let consent = String::from_utf8(test::read_body(response).await.to_vec()).unwrap();
    let mut form = hidden_fields(&consent);
    form.push(("decision".into(), "approve".into()));
    let response = send!(
        test::TestRequest::post()
            .uri("/authorize/decision")
            .set_form(&form)
    );
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

fn location<B>(response: &actix_web::dev::ServiceResponse<B>) -> String {
    response
        .headers()
        .get(header::LOCATION)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}
