//! Registration tokens, users and signing keys.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;
use tessera_core::{AuditKind, SigningAlg, Subject, store::UserRecord};
use tessera_web::PageError;

use crate::ops::{
    registration_tokens::{self, NewToken, TokenOpError},
    users::{self, UserChange, UserOpError},
};

use super::{
    Admin, AdminForm, AdminPage, AdminState, FieldError, FieldMarks, PageQuery, SensitiveForm,
    field, html, notice, number, see_other,
};

pub(crate) struct TokenRow {
    id: String,
    description: String,
    uses: String,
    expires: String,
    state: &'static str,
}

#[derive(Template)]
#[template(path = "admin/tokens.html")]
struct TokensPage<'a> {
    csrf_token: &'a str,
    admin_name: &'a str,
    notice: Option<&'a str>,
    registration_endpoint: String,
    tokens: Vec<TokenRow>,
    /// The create form: empty, or as posted when it was refused.
    form: NewTokenForm,
    marks: FieldMarks,
    /// The description search, as typed.
    query: String,
    /// The query of the next page.
    next: Option<String>,
    /// Whether this is a later page.
    paged: bool,
}

/// `GET /admin/registration-tokens`.
pub(crate) async fn get_tokens(
    query: web::Query<PageQuery>,
    AdminPage(admin): AdminPage,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let shown = (notice(query.notice.as_deref()), NewTokenForm::default());
    let list = (query.q.as_deref(), query.after.as_deref());
    tokens_page(&state, &admin, shown, FieldMarks::default(), list).await
}

/// A page of the tokens (`search`: in the description; `after`: the page after this cursor)
/// and the create form (`marks`: the refused field; then 400).
async fn tokens_page(
    state: &AdminState,
    admin: &Admin,
    (notice, form): (Option<&'static str>, NewTokenForm),
    marks: FieldMarks,
    (search, after): (Option<&str>, Option<&str>),
) -> Result<HttpResponse, PageError> {
    let search = search.map(str::trim).filter(|s| !s.is_empty());
    let cursor = after.and_then(tessera_core::store::TimeCursor::decode);
    let mut tokens = state
        .tokens
        .page_initial_access_tokens(search, cursor.as_ref(), super::LIST_PAGE + 1)
        .await?;
    let more = tokens.len() as u64 > super::LIST_PAGE;
    tokens.truncate(usize::try_from(super::LIST_PAGE).unwrap_or(100));
    let next = tokens.last().filter(|_| more).map(|t| {
        let cursor = tessera_core::store::TimeCursor {
            at: t.created_at,
            id: t.token_hash.as_str().to_owned(),
        };
        super::next_page(search, &cursor.encode())
    });
    let now = state.clock.now();
    let status = if marks.0.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = TokensPage {
        csrf_token: &admin.csrf,
        admin_name: &admin.user.username,
        notice,
        form,
        marks,
        query: search.unwrap_or_default().to_owned(),
        next,
        paged: cursor.is_some(),
        registration_endpoint: state
            .issuer
            .endpoint(tessera_client_registry::REGISTRATION_PATH),
        tokens: tokens
            .iter()
            .map(|t| TokenRow {
                id: registration_tokens::id_of(&t.token_hash).to_owned(),
                description: t.description.clone().unwrap_or_default(),
                uses: t
                    .uses_remaining
                    .map_or_else(|| "unlimited".into(), |u| u.to_string()),
                expires: t.expires_at.map_or_else(
                    || "never".into(),
                    |e| e.format("%Y-%m-%d %H:%M UTC").to_string(),
                ),
                state: t.state(now).as_str(),
            })
            .collect(),
    };
    Ok(html(status, page.render()))
}

/// The form that creates a registration token.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct NewTokenForm {
    uses: Option<String>,
    expires_in: Option<String>,
    description: Option<String>,
}

/// `POST /admin/registration-tokens`: the token is shown once; a refusal shows the form again
/// as posted with the wrong field marked (400).
pub(crate) async fn post_create_token(
    req: HttpRequest,
    AdminForm { admin, form, .. }: AdminForm<NewTokenForm>,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let (uses, expires_in) = (
        number(form.uses.as_deref()),
        number(form.expires_in.as_deref()),
    );
    let description = form.description.clone();
    let refuse = async |field: &'static str, why: String| {
        let marks = FieldMarks(Some(FieldError::new(field, why)));
        let shown = (Some(super::REFUSED_FIELD), form);
        tokens_page(&state, &admin, shown, marks, (None, None)).await
    };
    let whole = "a whole number, or nothing";
    let Ok(uses) = uses else {
        return refuse("uses", format!("the number of uses must be {whole}")).await;
    };
    let Ok(expires_in) = expires_in else {
        return refuse("expires_in", format!("the lifetime must be {whole}")).await;
    };
    let new = NewToken {
        uses,
        expires_in,
        description,
        created_by: format!("admin:{}", admin.user.username),
    };
    let token =
        match registration_tokens::create(state.tokens.as_ref(), new, state.clock.now()).await {
            Ok((token, _)) => token,
            Err(TokenOpError::Store(err)) => return Err(err.into()),
            Err(refused) => {
                let field = match refused {
                    TokenOpError::ExpiresIn => "expires_in",
                    _ => "uses",
                };
                return refuse(field, refused.to_string()).await;
            }
        };
    let kind = AuditKind::RegistrationTokenCreated;
    super::audit(&state, &req, &admin, kind, None, None).await;
    let made = crate::shown_once::Made::RegistrationToken;
    Ok(crate::shown_once::redirect_showing(
        &state,
        made,
        "",
        token.expose(),
    ))
}

/// `POST /admin/registration-tokens/{id}/revoke` (id: at least the first 12 hex digits of the
/// hash; see [`registration_tokens::find`]).
pub(crate) async fn post_revoke_token(
    req: HttpRequest,
    path: web::Path<String>,
    AdminForm { admin, .. }: AdminForm,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    match registration_tokens::revoke(state.tokens.as_ref(), &path, state.clock.now()).await {
        Ok(_) => {}
        Err(TokenOpError::Store(err)) => return Err(err.into()),
        Err(_) => return Ok(see_other("/admin/registration-tokens?notice=invalid")),
    }
    let kind = AuditKind::RegistrationTokenRevoked;
    super::audit(&state, &req, &admin, kind, None, None).await;
    Ok(see_other("/admin/registration-tokens?notice=revoked"))
}

pub(crate) struct UserRow {
    id: String,
    username: String,
    email: String,
    is_admin: bool,
    enabled: bool,
    mfa_required: bool,
    two_step: bool,
    passkeys: bool,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage<'a> {
    csrf_token: &'a str,
    admin_name: &'a str,
    notice: Option<&'a str>,
    query: &'a str,
    users: Vec<UserRow>,
    /// The query of the next page, when there may be one.
    next: Option<String>,
    /// Whether this is a later page.
    paged: bool,
    /// The create form: empty, or what was posted and refused (never the password).
    new: NewUserFields,
}

/// What the create-user form shows.
#[derive(Default)]
pub(crate) struct NewUserFields {
    username: String,
    email: String,
    name: String,
    is_admin: bool,
    marks: FieldMarks,
}

/// `GET /admin/users`.
pub(crate) async fn get_users(
    query: web::Query<PageQuery>,
    AdminPage(admin): AdminPage,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let notice = notice(query.notice.as_deref());
    let new = NewUserFields::default();
    let list = (query.q.as_deref(), query.after.as_deref());
    users_page(&state, &admin, list, (notice, new), StatusCode::OK).await
}

/// The user list with the create form `new` (and a notice above).
async fn users_page(
    state: &AdminState,
    admin: &Admin,
    (search, after): (Option<&str>, Option<&str>),
    (notice, new): (Option<&'static str>, NewUserFields),
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let mut users = state
        .users
        .list_users(search, after, super::LIST_PAGE + 1)
        .await?;
    let more = users.len() as u64 > super::LIST_PAGE;
    users.truncate(usize::try_from(super::LIST_PAGE).unwrap_or(100));
    let next = users
        .last()
        .filter(|_| more)
        .map(|u| super::next_page(search, &u.username));
    let ids: Vec<Subject> = users.iter().map(|u| u.id.clone()).collect();
    let with_app = state.factors.users_with_totp(&ids).await?;
    let with_passkeys = state.factors.users_with_passkeys(&ids).await?;
    let page = UsersPage {
        csrf_token: &admin.csrf,
        admin_name: &admin.user.username,
        notice,
        query: search.unwrap_or_default(),
        new,
        next,
        paged: after.is_some(),
        users: users
            .into_iter()
            .map(|u| UserRow {
                two_step: with_app.contains(&u.id),
                passkeys: with_passkeys.contains(&u.id),
                mfa_required: u.mfa_required,
                id: u.id.into_inner(),
                username: u.username,
                email: u.email.unwrap_or_default(),
                is_admin: u.is_admin,
                enabled: u.enabled,
            })
            .collect(),
    };
    Ok(html(status, page.render()))
}

/// The form that creates a user.
#[derive(Debug, Deserialize)]
pub(crate) struct NewUserForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    email: Option<String>,
    name: Option<String>,
    is_admin: Option<String>,
}

/// `POST /admin/users`.
pub(crate) async fn post_create_user(
    req: HttpRequest,
    AdminForm { admin, form, .. }: AdminForm<NewUserForm>,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let new = users::NewUser {
        username: form.username.clone(),
        password: form.password,
        email: form.email.clone(),
        name: form.name.clone(),
        is_admin: form.is_admin.as_deref() == Some("on"),
    };
    let user = match users::create(state.users.as_ref(), new, state.clock.now()).await {
        Ok(user) => user,
        Err(UserOpError::Store(err)) => return Err(err.into()),
        Err(err) => {
            // Shown again as typed (but the password), the wrong field marked: 400.
            let field = match &err {
                UserOpError::Password(_) => "password",
                UserOpError::Email => "email",
                UserOpError::Name => "name",
                _ => "username",
            };
            let new = NewUserFields {
                username: form.username,
                email: form.email.unwrap_or_default(),
                name: form.name.unwrap_or_default(),
                is_admin: form.is_admin.as_deref() == Some("on"),
                marks: FieldMarks(Some(FieldError::new(field, err.to_string()))),
            };
            let notice = Some(super::REFUSED_FIELD);
            let status = StatusCode::BAD_REQUEST;
            return users_page(&state, &admin, (None, None), (notice, new), status).await;
        }
    };
    let kind = AuditKind::UserCreated;
    super::audit(&state, &req, &admin, kind, None, Some(user.id.as_str())).await;
    Ok(see_other("/admin/users?notice=created"))
}

/// Where a user action's form goes back to: the user's page when it says `back=user`, else
/// the list.
fn back_of(back: Option<&str>, id: &str) -> String {
    match back {
        Some("user") => format!("/admin/users/{id}"),
        _ => "/admin/users".to_owned(),
    }
}

/// Applies `change` to user `id` through [`users::change`] (never to the acting admin's own
/// enabled or admin flag), then goes back to `back` with a notice.
async fn change_user(
    req: &HttpRequest,
    state: &AdminState,
    admin: &Admin,
    (id, back): (&str, &str),
    change: impl FnOnce(&UserRecord) -> UserChange,
) -> Result<HttpResponse, PageError> {
    let Some(user) = state.users.find_user(&Subject::new(id)).await? else {
        return Ok(see_other("/admin/users"));
    };
    let change = change(&user);
    let kind = change.audit_kind();
    let stores = users::UserStores {
        users: state.users.as_ref(),
        sessions: state.sessions.sessions.as_ref(),
        grants: state.grant_list.as_ref(),
        factors: state.factors.as_ref(),
    };
    match users::change(
        stores,
        Some(&admin.user.id),
        &user,
        change,
        state.clock.now(),
    )
    .await
    {
        Ok(_) => {}
        Err(UserOpError::OwnAccount) => return Ok(see_other(&format!("{back}?notice=self"))),
        Err(UserOpError::Store(err)) => return Err(err.into()),
        Err(UserOpError::NotFound(_)) => return Ok(see_other("/admin/users")),
        Err(_) => return Ok(see_other(&format!("{back}?notice=invalid"))),
    }
    super::audit(state, req, admin, kind, None, Some(id)).await;
    Ok(see_other(&format!("{back}?notice=updated")))
}

/// `POST /admin/users/{id}/toggle-enabled`.
pub(crate) async fn post_toggle_enabled(
    req: HttpRequest,
    path: web::Path<String>,
    AdminForm { admin, form, .. }: AdminForm,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let toggle = |user: &UserRecord| UserChange::Enabled(!user.enabled);
    let back = back_of(field(&form, "back"), &path);
    change_user(&req, &state, &admin, (&path, &back), toggle).await
}

/// `POST /admin/users/{id}/toggle-admin` (sensitive).
pub(crate) async fn post_toggle_admin(
    req: HttpRequest,
    path: web::Path<String>,
    SensitiveForm { admin, form }: SensitiveForm,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let toggle = |user: &UserRecord| UserChange::Admin(!user.is_admin);
    let back = back_of(field(&form, "back"), &path);
    change_user(&req, &state, &admin, (&path, &back), toggle).await
}

/// `POST /admin/users/{id}/toggle-mfa-required`.
pub(crate) async fn post_toggle_mfa_required(
    req: HttpRequest,
    path: web::Path<String>,
    AdminForm { admin, form, .. }: AdminForm,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let toggle = |user: &UserRecord| UserChange::MfaRequired(!user.mfa_required);
    let back = back_of(field(&form, "back"), &path);
    change_user(&req, &state, &admin, (&path, &back), toggle).await
}

/// `POST /admin/users/{id}/remove-second-factor` (sensitive).
pub(crate) async fn post_remove_second_factor(
    req: HttpRequest,
    path: web::Path<String>,
    SensitiveForm { admin, form }: SensitiveForm,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let remove = |_: &UserRecord| UserChange::RemoveSecondFactor;
    let back = back_of(field(&form, "back"), &path);
    change_user(&req, &state, &admin, (&path, &back), remove).await
}

/// The form that sets a user's password.
#[derive(Debug, Deserialize)]
pub(crate) struct PasswordForm {
    #[serde(default)]
    password: String,
    back: Option<String>,
}

/// `POST /admin/users/{id}/password` (sensitive).
pub(crate) async fn post_reset_password(
    req: HttpRequest,
    path: web::Path<String>,
    SensitiveForm { admin, form }: SensitiveForm<PasswordForm>,
    state: web::Data<AdminState>,
) -> Result<HttpResponse, PageError> {
    let back = back_of(form.back.as_deref(), &path);
    let reset = |_: &UserRecord| UserChange::Password(form.password);
    change_user(&req, &state, &admin, (&path, &back), reset).await
}

pub(crate) struct KeyRow {
    kid: String,
    alg: &'static str,
    state: &'static str,
    activates_at: String,
    retires_at: String,
}

#[derive(Template)]
#[template(path = "admin/keys.html")]
struct KeysPage<'a> {
    csrf_token: &'a str,
    admin_name: &'a str,
    notice: Option<&'a str>,
    activation_delay: i64,
    /// Where the keys live ("the database key store").
    store: String,
    keys: Vec<KeyRow>,
}

/// `GET /admin/keys`.
pub(crate) async fn get_keys(
    query: web::Query<PageQuery>,
    AdminPage(admin): AdminPage,
    state: web::Data<AdminState>,
) -> HttpResponse {
    let now = state.clock.now();
    let ring = state.keys.ring();
    let page = KeysPage {
        csrf_token: &admin.csrf,
        admin_name: &admin.user.username,
        notice: notice(query.notice.as_deref()),
        activation_delay: state.key_policy.activation_delay.num_seconds(),
        store: state.keys.store().describe(),
        keys: ring
            .keys()
            .map(|k| {
                let entry = k.entry();
                KeyRow {
                    kid: entry.kid.to_string(),
                    alg: entry.alg.as_str(),
                    state: entry.state(now).as_str(),
                    activates_at: entry.activates_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                    retires_at: entry.retires_at.map_or_else(
                        || "-".into(),
                        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
                    ),
                }
            })
            .collect(),
    };
    html(StatusCode::OK, page.render())
}

/// The form that rotates a key.
#[derive(Debug, Deserialize)]
pub(crate) struct RotateForm {
    alg: Option<String>,
}

/// `POST /admin/keys/rotate`.
pub(crate) async fn post_rotate_key(
    req: HttpRequest,
    SensitiveForm { admin, form }: SensitiveForm<RotateForm>,
    state: web::Data<AdminState>,
) -> HttpResponse {
    let Some(alg) = form.alg.and_then(|a| a.parse::<SigningAlg>().ok()) else {
        return see_other("/admin/keys?notice=invalid");
    };
    if let Err(err) = state.keys.rotate(alg, state.key_policy).await {
        return super::unavailable(&err);
    }
    super::audit(&state, &req, &admin, AuditKind::KeyRotated, None, None).await;
    see_other("/admin/keys?notice=rotated")
}
