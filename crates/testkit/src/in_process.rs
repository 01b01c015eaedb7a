//! The application in-process: the same `App` the server runs, driven through
//! `actix_web::test` (no socket, no port), with a cookie jar like a browser's. For tests that
//! want a request's whole path without the network — and for stepping through one in a debugger.

use std::{collections::HashMap, path::PathBuf};

use actix_web::{
    body::MessageBody,
    cookie::Cookie,
    dev::{Service, ServiceResponse},
    http::header,
    test::{self, TestRequest},
};
use tempfile::TempDir;
use tessera_server::{AppState, Config, build_app, config::RawConfig};

/// The application's state, on a fresh database (SQLite file, or `TEST_DATABASE_URL`) and key
/// folder in `dir`, with `change` applied to the configuration.
///
/// # Panics
/// When the configuration is invalid or the state can not be built.
#[expect(clippy::expect_used, reason = "test support")]
pub async fn state(
    dir: &TempDir,
    clock: std::sync::Arc<dyn tessera_core::Clock>,
    change: impl FnOnce(&mut RawConfig),
) -> AppState {
    let mut raw = RawConfig {
        database_url: tessera_storage::testing::fresh_database_url(dir.path()).await,
        keys_dir: PathBuf::from(dir.path()).join("keys"),
        ..RawConfig::default()
    };
    change(&mut raw);
    let config = Config::validate(raw).expect("valid test configuration");
    AppState::init(config, clock).await.expect("state builds")
}

/// An in-process application and its browser's cookies.
pub struct InProcess<S> {
    service: S,
    jar: HashMap<String, String>,
    /// The application's shared state.
    pub state: AppState,
}

impl<S> std::fmt::Debug for InProcess<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcess")
            .field("cookies", &self.jar.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Builds the application for `state`, in-process.
pub async fn start(
    state: AppState,
) -> InProcess<
    impl Service<
        actix_http::Request,
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
    >,
> {
    let service = test::init_service(build_app(state.clone())).await;
    InProcess {
        service,
        jar: HashMap::new(),
        state,
    }
}

impl<S, B> InProcess<S>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    /// Sends `request` with the cookies kept so far, and keeps those the answer sets (an empty
    /// value removes one).
    pub async fn send(&mut self, request: TestRequest) -> ServiceResponse<B> {
        let cookies = self
            .jar
            .iter()
            .map(|(k, v)| Cookie::new(k.clone(), v.clone()).to_string())
            .collect::<Vec<_>>()
            .join("; ");
        let request = request
            .insert_header((header::COOKIE, cookies))
            .to_request();
        let response = test::call_service(&self.service, request).await;
        for cookie in response.response().cookies() {
            if cookie.value().is_empty() {
                self.jar.remove(cookie.name());
            } else {
                self.jar
                    .insert(cookie.name().to_owned(), cookie.value().to_owned());
            }
        }
        response
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> ServiceResponse<B> {
        self.send(TestRequest::get().uri(path)).await
    }

    /// `POST path` with `form` (`application/x-www-form-urlencoded`).
    pub async fn post_form(&mut self, path: &str, form: &[(String, String)]) -> ServiceResponse<B> {
        self.send(TestRequest::post().uri(path).set_form(form))
            .await
    }
}

/// The body of `response`, as text.
///
/// # Panics
/// When it is not UTF-8.
#[expect(clippy::expect_used, reason = "test support")]
pub async fn text<B: MessageBody>(response: ServiceResponse<B>) -> String {
    String::from_utf8(test::read_body(response).await.to_vec()).expect("a UTF-8 body")
}

/// The `Location` of `response` (empty when there is none).
pub fn location<B>(response: &ServiceResponse<B>) -> String {
    response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}
