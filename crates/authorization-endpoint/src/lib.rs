//! tessera-authorization-endpoint: `/authorize`, login, consent, logout and the account page.
//!
//! [`request`] validates authorization requests and [`decide`] makes the flow's decisions, both as
//! plain functions; [`authorize`] runs the flow
//! (sign-in through [`login`] and, for a user with an authenticator app, [`second_factor`];
//! pending requests kept on the server, remembered consent, single-use codes); [`logout`] is
//! RP-initiated logout, [`account`] the user's own page (with [`two_step`] for the authenticator
//! app and [`passkeys`] for passkeys, which also sign in without a password, checked by
//! [`webauthn`]) and [`signup`] self-registration; [`signals`] watches sign-ins for new devices and
//! networks; [`mail`] sends email, which [`password_reset`], [`email_verification`] and
//! [`unlock`] use for their single-use links; [`device`] is where a user allows a device (RFC
//! 8628); [`home`] the landing page and the favicon.

pub mod account;
pub mod authorize;
pub mod decide;
pub mod device;
pub mod email_verification;
pub mod home;
pub mod id_token_hint;
pub mod login;
pub mod logout;
pub mod mail;
pub mod passkeys;
pub mod password_reset;
pub mod second_factor;
pub mod signals;
pub mod signup;
pub mod two_step;
pub mod unlock;
pub mod webauthn;

/// Authorization request validation (it lives in core: `/par` at the token side uses it too).
pub use tessera_core::authorization_request as request;

use actix_web::web;

pub use authorize::AuthorizeState;

/// Mounts `/authorize`, `/authorize/resume`, `/authorize/decision`, `/login`, `/logout`,
/// `/signup`, `/account` (and its two-step and passkey pages), the passkey sign-ins, `/device`,
/// the landing page `/`, the favicon, the stylesheet and logo (`tessera_web::brand`) and `/passkey.js`. Needs
/// `web::Data<authorize::AuthorizeState>` and `web::Data<login::LoginState>`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/login")
            .route(tessera_web::get_or_head().to(login::get_login))
            .route(web::post().to(login::post_login))
            .default_service(web::to(|| async {
                tessera_web::error::method_not_allowed("GET, POST")
            })),
    );
    cfg.service(
        web::resource(email_verification::PATH)
            .route(tessera_web::get_or_head().to(email_verification::get_verify))
            .route(web::post().to(email_verification::post_verify))
            .default_service(web::to(|| async {
                tessera_web::error::method_not_allowed("GET, POST")
            })),
    );
    cfg.route(
        "/account/email",
        web::post().to(email_verification::post_change),
    )
    .route(
        "/account/email/verify",
        web::post().to(email_verification::post_resend),
    );
    cfg.service(
        web::resource(unlock::PATH)
            .route(tessera_web::get_or_head().to(unlock::get_unlock))
            .route(web::post().to(unlock::post_unlock))
            .default_service(web::to(|| async {
                tessera_web::error::method_not_allowed("GET, POST")
            })),
    );
    cfg.service(
        web::resource("/password/forgot")
            .route(tessera_web::get_or_head().to(password_reset::get_forgot))
            .route(web::post().to(password_reset::post_forgot))
            .default_service(web::to(|| async {
                tessera_web::error::method_not_allowed("GET, POST")
            })),
    );
    cfg.service(
        web::resource("/password/reset")
            .route(tessera_web::get_or_head().to(password_reset::get_reset))
            .route(web::post().to(password_reset::post_reset))
            .default_service(web::to(|| async {
                tessera_web::error::method_not_allowed("GET, POST")
            })),
    );
    cfg.service(
        web::resource(second_factor::PATH)
            .route(tessera_web::get_or_head().to(second_factor::get_second_factor))
            .route(web::post().to(second_factor::post_second_factor))
            .default_service(web::to(|| async {
                tessera_web::error::method_not_allowed("GET, POST")
            })),
    );
    cfg.service(
        web::resource("/logout")
            .route(tessera_web::get_or_head().to(logout::get_logout))
            .route(web::post().to(logout::post_logout))
            .default_service(web::to(|| async {
                tessera_web::error::method_not_allowed("GET, POST")
            })),
    )
    .service(
        web::resource("/signup")
            .route(tessera_web::get_or_head().to(signup::get_signup))
            .route(web::post().to(signup::post_signup))
            .default_service(web::to(|| async {
                tessera_web::error::method_not_allowed("GET, POST")
            })),
    )
    .route("/account", web::get().to(account::get_account))
    .route(
        "/account/sessions/{id}/revoke",
        web::post().to(account::post_revoke_session),
    )
    .route(
        "/account/apps/{client_id}/revoke",
        web::post().to(account::post_revoke_app),
    )
    .route(
        "/account/password",
        web::post().to(account::post_change_password),
    )
    .route(two_step::PATH, web::get().to(two_step::get_two_step))
    .route(
        "/account/two-step/start",
        web::post().to(two_step::post_start),
    )
    .route(
        "/account/two-step/confirm",
        web::post().to(two_step::post_confirm),
    )
    .route(
        "/account/two-step/remove",
        web::post().to(two_step::post_remove),
    )
    .route(
        "/account/two-step/recovery",
        web::post().to(two_step::post_recovery),
    )
    .route(passkeys::PAGE, web::get().to(passkeys::get_passkeys))
    .route(passkeys::PAGE, web::post().to(passkeys::post_register))
    .route(
        "/account/passkeys/options",
        web::post().to(passkeys::post_register_options),
    )
    .route(
        "/account/passkeys/rename",
        web::post().to(passkeys::post_rename),
    )
    .route(
        "/account/passkeys/remove",
        web::post().to(passkeys::post_remove),
    )
    .route(
        "/login/passkey/options",
        web::post().to(passkeys::post_sign_in_options),
    )
    .route("/login/passkey", web::post().to(passkeys::post_sign_in))
    .route(
        "/login/second-factor/passkey/options",
        web::post().to(passkeys::post_second_factor_options),
    )
    .route(
        "/login/second-factor/passkey",
        web::post().to(passkeys::post_second_factor),
    );
    cfg.route("/", tessera_web::get_or_head().to(home::get_home))
        .route(
            "/favicon.svg",
            tessera_web::get_or_head().to(home::get_favicon),
        )
        .route(
            "/favicon.ico",
            tessera_web::get_or_head().to(home::get_favicon),
        )
        .route(
            passkeys::SCRIPT_PATH,
            tessera_web::get_or_head().to(passkeys::get_script),
        )
        .route(
            "/tessera.css",
            tessera_web::get_or_head().to(tessera_web::brand::get_stylesheet),
        )
        .route(
            "/brand/logo",
            tessera_web::get_or_head().to(tessera_web::brand::get_logo),
        );
    cfg.service(
        web::resource(device::PATH)
            .route(tessera_web::get_or_head().to(device::get_device))
            .route(web::post().to(device::post_device))
            .default_service(web::to(|| async {
                tessera_web::error::method_not_allowed("GET, POST")
            })),
    );
    cfg.service(
        web::resource(authorize::RESUME_PATH)
            .route(tessera_web::get_or_head().to(authorize::get_resume))
            .default_service(web::to(|| async {
                tessera_web::error::method_not_allowed("GET")
            })),
    );
    cfg.service(
        web::resource("/authorize/decision")
            .route(web::post().to(authorize::post_decision))
            .default_service(web::to(|| async {
                tessera_web::error::method_not_allowed("POST")
            })),
    );
    cfg.service(
        web::resource("/authorize")
            .route(web::get().to(authorize::get_authorize))
            .route(web::post().to(authorize::post_authorize))
            .default_service(web::to(|| async {
                tessera_web::error::method_not_allowed("GET, POST")
            })),
    );
}
