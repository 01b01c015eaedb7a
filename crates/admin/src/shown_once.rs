//! A secret shown once — a new client's secret, a rotated one, an initial access token — after a
//! redirect, so that reloading the page never repeats the action (post/redirect/get): the POST
//! that made the secret puts it in a short-lived cookie scoped to [`PATH`] (HttpOnly,
//! SameSite=Strict, Secure with an https issuer) and redirects there; the page shows it and
//! deletes the cookie. The server keeps only the secret's hash, as before; a reload of the page
//! finds nothing to show.

use actix_web::{
    HttpRequest, HttpResponse,
    cookie::{Cookie, SameSite, time::Duration as CookieDuration},
    http::{StatusCode, header},
    web,
};
use askama::Template;
use serde::Deserialize;
use tessera_web::PageError;

use super::{AdminPage, AdminState, clients::ShownOncePage, html};

/// Where secrets are shown.
pub(crate) const PATH: &str = "/admin/shown-once";
const COOKIE: &str = "tessera_shown_once";
const SECURE_COOKIE: &str = "__Secure-tessera_shown_once";
/// How long the cookie waits for the redirect.
const COOKIE_SECS: i64 = 300;

/// What was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Made {
    /// A new client's secret.
    ClientCreated,
    /// A client's rotated secret.
    ClientSecret,
    /// An initial access token.
    RegistrationToken,
}

impl Made {
    fn as_str(self) -> &'static str {
        match self {
            Self::ClientCreated => "client-created",
            Self::ClientSecret => "client-secret",
            Self::RegistrationToken => "registration-token",
        }
    }

    /// Title, words before the value, and where to go on.
    fn words(self, id: &str) -> (&'static str, String, String) {
        match self {
            Self::ClientCreated => (
                "Client registered",
                format!("The client {id} was registered. Its client secret:"),
                format!("/admin/clients/{id}"),
            ),
            Self::ClientSecret => (
                "New client secret",
                "The previous secret no longer works. The new client secret:".into(),
                format!("/admin/clients/{id}"),
            ),
            Self::RegistrationToken => (
                "Initial access token created",
                "Give this to the app that will register itself, as a bearer token for the registration endpoint:".into(),
                "/admin/registration-tokens".into(),
            ),
        }
    }
}

fn cookie_name(secure: bool) -> &'static str {
    if secure { SECURE_COOKIE } else { COOKIE }
}

/// The answer to the POST that made `secret`: a redirect to the page that shows it once.
pub(crate) fn redirect_showing(
    state: &AdminState,
    made: Made,
    id: &str,
    secret: &str,
) -> HttpResponse {
    let mut cookie = shown_cookie(state.sessions.secure_cookies, secret.to_owned());
    cookie.set_max_age(CookieDuration::seconds(COOKIE_SECS));
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("made", made.as_str())
        .append_pair("id", id)
        .finish();
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("{PATH}?{query}")))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(cookie)
        .finish()
}

/// `GET /admin/shown-once` query.
#[derive(Debug, Deserialize)]
pub(crate) struct ShownQuery {
    made: Made,
    #[serde(default)]
    id: String,
}

/// `GET /admin/shown-once`: the secret, once; then the cookie is gone (410 on a reload).
pub(crate) async fn get_shown_once(
    req: HttpRequest,
    query: web::Query<ShownQuery>,
    AdminPage(admin): AdminPage,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let secure = state.sessions.secure_cookies;
    let (title, label, back) = query.made.words(&query.id);
    let secret = req
        .cookie(cookie_name(secure))
        .map(|c| c.value().to_owned());
    let page = ShownOncePage {
        csrf_token: &admin.csrf,
        admin_name: &admin.user.username,
        notice: secret
            .is_none()
            .then_some("It was shown once and is no longer here; nothing was repeated."),
        title,
        label: &label,
        value: secret.as_deref().unwrap_or_default(),
        back: &back,
    };
    if secret.is_none() {
        return Ok(html(StatusCode::GONE, page.render()));
    }
    let mut response = html(StatusCode::OK, page.render());
    if let Ok(value) = header::HeaderValue::from_str(&removal(secure).to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// The cookie that carries a value to [`PATH`], with its attributes.
fn shown_cookie(secure: bool, value: String) -> Cookie<'static> {
    Cookie::build(cookie_name(secure), value)
        .path(PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .finish()
}

/// The `Set-Cookie` that deletes the cookie once its value was shown.
fn removal(secure: bool) -> Cookie<'static> {
    let mut gone = shown_cookie(secure, String::new());
    gone.make_removal();
    gone
}
