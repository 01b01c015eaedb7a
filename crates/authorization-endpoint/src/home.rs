//! `/`: a landing page that says what this server is and links to the account page and the
//! console, and the favicon (`/favicon.svg`, also at `/favicon.ico`), so no page — nor the
//! browser's own request for an icon — ends in "Not found".

use actix_web::{HttpResponse, http::StatusCode, http::header, web};
use askama::Template;

use crate::authorize::AuthorizeState;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage<'a> {
    issuer: &'a str,
}

/// The icon: a tile of four squares, in the pages' colours.
pub const FAVICON_SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#1d2330"/><rect x="6" y="6" width="9" height="9" rx="1.5" fill="#8fb3ff"/><rect x="17" y="6" width="9" height="9" rx="1.5" fill="#ffffff"/><rect x="6" y="17" width="9" height="9" rx="1.5" fill="#ffffff"/><rect x="17" y="17" width="9" height="9" rx="1.5" fill="#8fb3ff"/></svg>"##;

/// `GET /`.
pub async fn get_home(state: web::Data<AuthorizeState>) -> HttpResponse {
    let page = HomePage {
        issuer: state.issuer.as_str(),
    };
    tessera_web::html_page(StatusCode::OK, page.render())
}

/// `GET /favicon.svg` and `GET /favicon.ico`.
pub async fn get_favicon() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "image/svg+xml"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(FAVICON_SVG)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_landing_page_links_to_the_account_and_the_console() {
        let page = HomePage {
            issuer: "https://id.example.com",
        }
        .render()
        .unwrap();
        assert!(page.contains(r#"href="/account""#));
        assert!(page.contains(r#"href="/admin""#));
        assert!(page.contains("https://id.example.com/.well-known/openid-configuration"));
    }
}
