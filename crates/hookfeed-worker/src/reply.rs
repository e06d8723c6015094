//! Every HTTP answer the Worker gives, and its status code: chosen here and nowhere else.

use hookfeed_core::protocol::ErrorCode;
use hookfeed_core::rate::RateLimited;
use hookfeed_core::token::TokenError;
use hookfeed_core::DeliveryError;
use serde::Serialize;
use serde_json::json;
use worker::{Headers, Response, ResponseBuilder, Result};

/// An answer, before it becomes a [`Response`].
#[derive(Debug)]
pub enum Reply {
    /// A JSON body with 200.
    Json(serde_json::Value),
    /// A delivery was stored, or had been already.
    Received {
        /// True when the event id was logged before.
        duplicate: bool,
        /// True when it was logged before with a different body.
        conflict: bool,
        /// True when it arrived after a newer event for its document.
        out_of_order: bool,
        /// Its seq in the log.
        seq: u64,
    },
    /// No source has this name.
    UnknownSource(String),
    /// The body is over the source's cap.
    TooLarge(usize),
    /// The delivery's signature or body was refused.
    Rejected(DeliveryError),
    /// Too many deliveries.
    RateLimited(RateLimited),
    /// Storage failed: the provider should retry.
    StorageFailed,
    /// The feed had not answered a batched delivery by its answer bound: it may yet be
    /// stored, and the provider's retry is then answered as a duplicate.
    NoAnswerInTime,
    /// The configuration is unusable.
    BadConfiguration(String),
    /// A subscriber token was refused.
    Token(TokenError),
    /// No subscriber or admin token was given.
    MissingToken(&'static str),
    /// The request is malformed.
    BadRequest(String),
    /// The admin API is not enabled.
    AdminDisabled,
    /// No such document or route.
    NotFound(String),
    /// The route exists, but not for this method.
    MethodNotAllowed(&'static str),
    /// `/feed` without a WebSocket upgrade.
    UpgradeRequired,
    /// The client address holds this many sockets on the feed already.
    TooManySockets(u32),
}

impl Reply {
    /// The refusal a feed's answer stands for, if it is one: a source over its rate limit
    /// (429) or storage that failed (503). The edge records those beside its own.
    pub fn from_feed_refusal(status: u16, headers: &web_sys::Headers) -> Option<Self> {
        match status {
            429 => {
                let retry_after_secs =
                    headers.get("retry-after").ok().flatten().and_then(|v| v.parse().ok()).unwrap_or(1);
                Some(Self::RateLimited(RateLimited { retry_after_secs }))
            }
            503 => Some(Self::StorageFailed),
            _ => None,
        }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        match self {
            Self::Json(_) | Self::Received { .. } => 200,
            Self::Rejected(DeliveryError::Event(_)) | Self::BadRequest(_) => 400,
            Self::Rejected(_) | Self::MissingToken(_) => 401,
            Self::Token(e) if e.code() == ErrorCode::PermissionDenied => 403,
            Self::Token(e) if e.code() == ErrorCode::Unavailable => 503,
            Self::Token(_) => 401,
            Self::UnknownSource(_) | Self::NotFound(_) | Self::AdminDisabled => 404,
            Self::MethodNotAllowed(_) => 405,
            Self::TooLarge(_) => 413,
            Self::UpgradeRequired => 426,
            Self::RateLimited(_) | Self::TooManySockets(_) => 429,
            Self::BadConfiguration(_) => 500,
            Self::StorageFailed | Self::NoAnswerInTime => 503,
        }
    }

    /// The machine-readable error code, for failures.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Json(_) | Self::Received { .. } => "ok",
            Self::UnknownSource(_) => "unknown_source",
            Self::TooLarge(_) => "body_too_large",
            Self::Rejected(e) => e.code(),
            Self::RateLimited(_) => "rate_limited",
            Self::StorageFailed | Self::NoAnswerInTime => "storage_unavailable",
            Self::BadConfiguration(_) => "bad_configuration",
            Self::Token(TokenError::Expired(_)) => "token_expired",
            Self::Token(e) if e.code() == ErrorCode::PermissionDenied => "permission_denied",
            Self::Token(e) if e.code() == ErrorCode::Unavailable => "identity_keys_unavailable",
            Self::Token(_) => "invalid_token",
            Self::MissingToken(_) => "missing_token",
            Self::BadRequest(_) => "bad_request",
            Self::AdminDisabled => "admin_disabled",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::UpgradeRequired => "upgrade_required",
            Self::TooManySockets(_) => "too_many_sockets",
        }
    }

    /// The message for people, for failures. Quotes at most a few dozen bytes of any
    /// name it was given, so that it never echoes an unbounded input.
    pub fn message(&self) -> String {
        match self {
            Self::Json(_) | Self::Received { .. } => String::new(),
            Self::UnknownSource(name) => format!(
                "no source `{}` is configured: add it to HOOKFEED_SOURCES and set its secret",
                hookfeed_core::refusal::quote(name)
            ),
            Self::TooLarge(limit) => format!("body is larger than this source's {limit}-byte limit"),
            Self::Rejected(e) => e.to_string(),
            Self::RateLimited(e) => e.to_string(),
            Self::StorageFailed => "storage is unavailable; nothing was stored, retry later".to_owned(),
            Self::NoAnswerInTime => {
                "storage did not answer in time; retry later (if it was stored meanwhile, the retry is answered as a duplicate)"
                    .to_owned()
            }
            Self::BadConfiguration(e) => e.clone(),
            Self::Token(e) => e.to_string(),
            Self::MissingToken(how) => format!("missing token: {how}"),
            Self::BadRequest(e) | Self::NotFound(e) => e.clone(),
            Self::AdminDisabled => "the admin API is disabled: set the ADMIN_TOKEN secret to enable it".to_owned(),
            Self::MethodNotAllowed(allowed) => format!("method not allowed: use {allowed}"),
            Self::UpgradeRequired => "GET /feed is a WebSocket endpoint: connect with a WebSocket client".to_owned(),
            Self::TooManySockets(limit) => format!(
                "this address holds {limit} sockets on this feed already: share one socket between listeners \
                 (the browser module does), or close some"
            ),
        }
    }

    /// The body, as JSON text.
    fn body(&self) -> Result<String> {
        let body = match self {
            Self::Json(body) => serde_json::to_string(body),
            Self::Received { duplicate, conflict, out_of_order, seq } => {
                #[derive(Serialize)]
                struct Received {
                    received: bool,
                    duplicate: bool,
                    #[serde(skip_serializing_if = "std::ops::Not::not")]
                    conflict: bool,
                    #[serde(skip_serializing_if = "std::ops::Not::not")]
                    out_of_order: bool,
                    seq: u64,
                }
                serde_json::to_string(&Received {
                    received: true,
                    duplicate: *duplicate,
                    conflict: *conflict,
                    out_of_order: *out_of_order,
                    seq: *seq,
                })
            }
            _ => serde_json::to_string(&json!({"error": {"code": self.code(), "message": self.message()}})),
        };
        Ok(body?)
    }

    /// The header this answer needs besides `Content-Type`, if any.
    fn extra_header(&self) -> Option<(&'static str, String)> {
        match self {
            Self::RateLimited(limited) => Some(("Retry-After", limited.retry_after_secs.to_string())),
            Self::StorageFailed | Self::NoAnswerInTime => Some(("Retry-After", "30".to_owned())),
            Self::TooManySockets(_) => Some(("Retry-After", "60".to_owned())),
            Self::MethodNotAllowed(allowed) => Some(("Allow", (*allowed).to_owned())),
            Self::Token(_) | Self::MissingToken(_) => Some(("WWW-Authenticate", "Bearer".to_owned())),
            Self::Received { duplicate: true, .. } => Some((crate::hop::DUPLICATE_HEADER, "true".to_owned())),
            _ => None,
        }
    }

    fn headers(&self) -> Result<Headers> {
        let headers = Headers::new();
        headers.set("Content-Type", "application/json")?;
        if let Some((name, value)) = self.extra_header() {
            headers.set(name, &value)?;
        }
        Ok(headers)
    }

    /// The answer as the `worker` crate's response, which a Durable Object's `fetch` returns.
    pub fn into_response(self) -> Result<Response> {
        Ok(ResponseBuilder::new()
            .with_status(self.status())
            .with_headers(self.headers()?)
            .fixed(self.body()?.into_bytes()))
    }

    /// The answer as one outcome of a batch hand-off
    /// ([`Outcome`](hookfeed_core::batch::Outcome)): what the Worker answers the
    /// delivery's provider, exactly as if the delivery had been handed off alone.
    pub fn into_outcome(self) -> Result<hookfeed_core::batch::Outcome> {
        let retry_after = match self.extra_header() {
            Some(("Retry-After", value)) => value.parse().ok(),
            _ => None,
        };
        Ok(hookfeed_core::batch::Outcome {
            status: self.status(),
            duplicate: matches!(self, Self::Received { duplicate: true, .. }),
            retry_after,
            body: self.body()?,
        })
    }

    /// The answer as the platform's own response, which the Worker returns as it is: no
    /// copy of the body and no second conversion on the way out.
    pub fn into_raw(self) -> Result<web_sys::Response> {
        let init = web_sys::ResponseInit::new();
        init.set_status(self.status());
        init.set_headers(&self.headers()?.0);
        Ok(web_sys::Response::new_with_opt_str_and_init(Some(&self.body()?), &init)?)
    }
}

/// The platform's response for one outcome of a batch hand-off: the status, body and
/// headers the feed would have answered the delivery alone with.
pub fn outcome_response(outcome: &hookfeed_core::batch::Outcome) -> Result<web_sys::Response> {
    let headers = web_sys::Headers::new()?;
    headers.set("Content-Type", "application/json")?;
    if let Some(secs) = outcome.retry_after {
        headers.set("Retry-After", &secs.to_string())?;
    }
    if outcome.duplicate {
        headers.set(crate::hop::DUPLICATE_HEADER, "true")?;
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(outcome.status);
    init.set_headers(&headers);
    Ok(web_sys::Response::new_with_opt_str_and_init(Some(&outcome.body), &init)?)
}
