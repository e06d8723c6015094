//! Bring your own identity: subscriber tokens that are an existing identity provider's
//! RS256 or ES256 JWTs (a Firebase Auth ID token, an Auth0, Clerk or Supabase access
//! token), checked against the keys the provider publishes (its JWKS).
//!
//! Each [`IdentityProvider`] in `HOOKFEED_IDENTITY` names an issuer, the audience its
//! tokens must carry, where its keys are, and what its users may read: path scopes, and
//! owner scopes ("documents of `projects` whose `user_id` is the token's subject"). A
//! token of a provider ends as the same [`TokenClaims`] a `TOKEN_SECRET` token does, so
//! every later check (the feed's, on each listen, snapshot and change) is the same.
//!
//! The check runs in two halves around the one step core cannot take: [`begin_identity`]
//! reads the token and checks every claim (cheap, and before any key is fetched, so a
//! stranger's token with a made-up `kid` costs no request to the provider unless it also
//! claims a configured issuer and audience and has not expired), then the platform
//! verifies the signature with [`IdentityToken::key`] (WebCrypto, in the Worker), and only
//! [`IdentityToken::accept`] of a verified signature gives the claims.
//!
//! Every refusal before the signature is verified is answered alike
//! ([`TokenError::public`]), so the checks' order is no oracle. An expired token whose
//! other claims hold is verified all the same (with the keys held: it never prompts a
//! refetch for its `kid`), and is refused as expired only if its signature verifies.
//!
//! One concern per file: `config.rs` reads and checks `HOOKFEED_IDENTITY`
//! ([`IdentityProvider`]), `jwks.rs` reads a provider's published keys ([`JwkSet`]) and
//! picks the one a token names, and `claims.rs` checks a token's claims
//! ([`begin_identity`]) and gives its grants once the signature is verified
//! ([`IdentityToken`]). This file routes a token to the check it gets ([`check_token`]).

mod claims;
mod config;
mod jwks;

pub use claims::{
    begin_identity, is_identity_token, IdentityToken, CLOCK_LEEWAY_SECS, MAX_CLAIMED_SCOPES, MAX_SUBJECT_LEN,
};
pub use config::{load_identity, IdentityProvider, IDENTITY_VAR};
pub use jwks::{Jwk, JwkSet, JwksError, KeyAlgorithm, KEYS_MAX_AGE_SECS, MAX_JWKS_BYTES, REFRESH_COOLDOWN_SECS};

use crate::secret::Secret;
use crate::time::UnixTime;
use crate::token::{Jwt, TokenClaims, TokenError};

/// A subscriber token after the checks core can make: an HS256 token verified with
/// `TOKEN_SECRET`, or an identity provider's token whose claims hold, waiting for the
/// platform to verify its signature.
#[derive(Debug)]
pub enum CheckedToken<'t, 'p> {
    /// Verified: what it grants.
    Verified(TokenClaims),
    /// An identity provider's token: verify its signature, then [`IdentityToken::accept`].
    Pending(IdentityToken<'t, 'p>),
}

/// Checks a subscriber token as far as core can: RS256/ES256 tokens go to the identity
/// providers when any are configured ([`begin_identity`]), every other token to
/// [`verify_token`](crate::token::verify_token) (which refuses all but HS256). The error is
/// precise, for the log; answer [`TokenError::public`].
pub fn check_token<'t, 'p>(
    token: &'t str,
    secrets: &[Secret],
    providers: &'p [IdentityProvider],
    tenant: Option<&str>,
    now: UnixTime,
) -> Result<CheckedToken<'t, 'p>, TokenError> {
    let jwt = Jwt::parse(token)?;
    if is_identity_token(&jwt) && !providers.is_empty() {
        begin_identity(jwt, providers, tenant, now).map(CheckedToken::Pending)
    } else {
        crate::token::verify_token(token, secrets, tenant, now).map(CheckedToken::Verified)
    }
}

#[cfg(test)]
mod tests;
