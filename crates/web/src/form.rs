//! Forms posted by Tessera's own pages: [`CsrfForm<T>`] reads the body as `T` (serde, from
//! `application/x-www-form-urlencoded`) after checking its CSRF token, so a handler gets typed
//! fields or never runs.

use std::{future::Future, pin::Pin};

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use serde::de::DeserializeOwned;

use crate::{csrf::CSRF_FIELD, csrf::csrf_valid, error::PageError};

/// A form's fields as posted, in order (for fields that repeat).
pub type Pairs = Vec<(String, String)>;

/// The first value of field `name`.
pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Reads `pairs` as `T`: each field once (a repeated field is refused), unknown ones ignored.
pub fn typed<T: DeserializeOwned>(pairs: &[(String, String)]) -> Result<T, PageError> {
    let encoded =
        serde_urlencoded::to_string(pairs).map_err(|e| PageError::BadForm(e.to_string()))?;
    serde_urlencoded::from_str(&encoded).map_err(|e| PageError::BadForm(e.to_string()))
}

/// A POSTed form with exactly one CSRF token, and the right one ([`csrf_valid`]), read as `T`;
/// otherwise the request is answered with the [`PageError`] (403 for the token, 400 for a form
/// that is not a `T`).
#[derive(Debug)]
pub struct CsrfForm<T = Pairs> {
    /// The form.
    pub form: T,
    /// Its fields as posted (for fields that repeat, such as checkboxes of one name).
    pub pairs: Pairs,
}

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Form::<Pairs>::from_request(&req, payload);
        Box::pin(async move {
            let pairs = body
                .await
                .map_err(|e| PageError::BadForm(e.to_string()))?
                .into_inner();
            let mut tokens = pairs.iter().filter(|(k, _)| k == CSRF_FIELD);
            let token = match (tokens.next(), tokens.next()) {
                (Some((_, token)), None) => Some(token.as_str()),
                _ => None,
            };
            if !csrf_valid(&req, token) {
                return Err(PageError::Csrf.into());
            }
            let form = typed(&pairs)?;
            Ok(Self { form, pairs })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Edit {
        name: String,
        #[serde(default)]
        enabled: Option<String>,
    }

    fn pairs(fields: &[(&str, &str)]) -> Pairs {
        fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn reads_fields_ignores_unknown_ones_and_refuses_repeats() {
        let read: Edit = typed(&pairs(&[("csrf_token", "t"), ("name", "a b&c")])).unwrap();
        assert_eq!(
            read,
            Edit {
                name: "a b&c".into(),
                enabled: None
            }
        );
        assert!(typed::<Edit>(&pairs(&[("name", "a"), ("name", "b")])).is_err());
        assert!(typed::<Edit>(&pairs(&[("enabled", "on")])).is_err());
    }

    proptest::proptest! {
        /// Any fields, any characters: read back as posted, in order; a struct either reads
        /// its field or refuses the form, never panics.
        #[test]
        fn any_form_reads_back_as_posted(
            fields in proptest::collection::vec(("\\PC{0,12}", "\\PC{0,24}"), 0..8),
        ) {
            let posted: Pairs = fields;
            let read: Pairs = typed(&posted).unwrap();
            proptest::prop_assert_eq!(&read, &posted);
            let names = posted.iter().filter(|(k, _)| k == "name").count();
            let edit = typed::<Edit>(&posted);
            proptest::prop_assert_eq!(edit.is_ok(), names == 1 && posted.iter().filter(|(k, _)| k == "enabled").count() <= 1);
        }
    }
}
