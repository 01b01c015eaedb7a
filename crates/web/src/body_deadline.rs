//! A deadline for request bodies.
//!
//! actix times out a request's head (`client_request_timeout`) but waits for its body as long
//! as the client keeps the connection open: 3,000 connections that sent half a body held 3,000
//! sockets and their buffers indefinitely. Every body is therefore read here, before routing,
//! within [`BodyDeadline::timeout`] of the request's arrival and up to [`MAX_BODY_BYTES`]; a
//! body that does not arrive in time is answered `408` and the connection closed, one that is
//! too large `413`. The endpoints keep their own, smaller limits; they read the buffered body.

use std::time::Duration;

use actix_web::{
    Error, HttpMessage, HttpResponse,
    body::{EitherBody, MessageBody},
    dev::{Payload, ServiceRequest, ServiceResponse},
    http::header,
    middleware::Next,
    web,
};
use futures_util::StreamExt;

/// The largest body any endpoint reads.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How long a request's body may take to arrive (app data for [`body_deadline`]).
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline {
    /// From the request head to the body's last byte.
    pub timeout: Duration,
}

fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.trim() != "0")
}

/// The middleware; without [`BodyDeadline`] app data it passes requests through untouched.
pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let deadline = req.app_data::<web::Data<BodyDeadline>>().map(|d| d.timeout);
    if let (Some(timeout), true) = (deadline, has_body(&req)) {
        let mut payload = req.take_payload();
        let read = async {
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|_| 400u16)?;
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(413u16);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body.freeze())
        };
        let (status, text) = match tokio::time::timeout(timeout, read).await {
            Ok(Ok(body)) => {
                req.set_payload(Payload::from(body));
                return next
                    .call(req)
                    .await
                    .map(ServiceResponse::map_into_left_body);
            }
            Ok(Err(413)) => (413, "The request body is too large.\n"),
            Ok(Err(_)) => (400, "The request body could not be read.\n"),
            Err(_) => (408, "The request body did not arrive in time.\n"),
        };
        let status = actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
        let response = HttpResponse::build(status)
            .insert_header((header::CONNECTION, "close"))
            .content_type("text/plain; charset=utf-8")
            .body(text);
        return Ok(req.into_response(response).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}
