//! What routes need from a request, extracted in one place each: the bearer token, a
//! subscriber's verified claims, the admin's token, and the tenant an admin asks about.

use hookfeed_core::identity::{check_token, CheckedToken};
use hookfeed_core::token::{TokenClaims, TokenError};
use subtle::ConstantTimeEq;
use worker::Request;

use crate::config::Config;
use crate::hop::{now, query};
use crate::reply::Reply;

/// The token of `Authorization: Bearer <token>`, trimmed, if the request carries one.
pub fn bearer(req: &Request) -> Option<String> {
    let header = req.headers().get("authorization").ok().flatten()?;
    header.strip_prefix("Bearer ").map(|token| token.trim().to_owned())
}

/// The subscriber token of a request: `?token=`, `Authorization: Bearer`, or an entry of
/// `Sec-WebSocket-Protocol` (browsers cannot set headers on a WebSocket).
fn subscriber_token(req: &Request) -> Option<String> {
    if let Some(token) = query(req, "token") {
        return Some(token);
    }
    if let Some(token) = bearer(req) {
        return Some(token);
    }
    let protocols = req.headers().get("sec-websocket-protocol").ok().flatten()?;
    // Beside the subprotocol, the entry shaped as a token (a JWT: three dotted parts).
    protocols.split(',').map(str::trim).find(|p| hookfeed_wire::token::parts(p).is_some()).map(str::to_owned)
}

/// The verified claims of the request's subscriber token: a `TOKEN_SECRET` JWT (HS256),
/// or an identity provider's (RS256/ES256, `HOOKFEED_IDENTITY`), whose keys may have to
/// be fetched first. `?tenant=` picks the tenant when a provider's issuer serves several.
///
/// Every token refused before its signature was verified gets one answer (401
/// `invalid_token`, one message): the reason goes to the log only, never the token.
pub async fn subscriber(req: &Request, config: &Config) -> Result<TokenClaims, Reply> {
    let token = subscriber_token(req).ok_or(Reply::MissingToken(
        "pass a subscriber token (`hookfeed token`) as ?token=, Authorization: Bearer, or a Sec-WebSocket-Protocol entry",
    ))?;
    let tenant = query(req, "tenant");
    let checked = check_token(&token, &config.token_secrets, &config.identity, tenant.as_deref(), now());
    let verified = match checked {
        Ok(CheckedToken::Verified(claims)) => Ok(claims),
        Ok(CheckedToken::Pending(pending)) => crate::identity::verify(pending).await,
        Err(e) => Err(e),
    };
    let claims = verified.map_err(|e| {
        worker::console_log!("subscriber token refused: {e}");
        Reply::Token(e.public())
    })?;
    // A tenant no source feeds would answer every listen with nothing, forever: say so,
    // without naming the tenants that exist (they are other customers').
    if !config.tenants().any(|t| t == claims.tenant) {
        return Err(Reply::NotFound(format!(
            "no source feeds tenant `{}`: mint the token for a tenant HOOKFEED_SOURCES names",
            hookfeed_core::refusal::quote(&claims.tenant)
        )));
    }
    Ok(claims)
}

/// Checks `Authorization: Bearer <ADMIN_TOKEN>`, in constant time.
pub fn admin(req: &Request, config: &Config) -> Result<(), Reply> {
    let Some(admin) = &config.admin_token else { return Err(Reply::AdminDisabled) };
    let Some(given) = bearer(req) else {
        return Err(Reply::MissingToken("pass the ADMIN_TOKEN as Authorization: Bearer"));
    };
    if bool::from(given.as_bytes().ct_eq(admin.expose())) {
        Ok(())
    } else {
        Err(Reply::Token(TokenError::Forged))
    }
}

/// The tenant an admin request is about: `?tenant=`, else the configuration's
/// [`default_tenant`](Config::default_tenant).
pub fn admin_tenant(req: &Request, config: &Config) -> String {
    query(req, "tenant").unwrap_or_else(|| config.default_tenant().to_owned())
}
