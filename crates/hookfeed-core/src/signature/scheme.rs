//! The trait every signature scheme implements: how one provider signs its deliveries,
//! and how its bodies read.

use serde_json::{Map, Value};

use super::content::{Headers, ReplayWindow, SignedContent, SignedHeaders, SigningInput};
use super::error::{SecretError, SignatureError};
use crate::event::{EventError, EventParts};
use crate::projection::ProjectionRule;
use crate::secret::Secret;

/// What [`Scheme::signed_content`] gives: what to MAC and compare, or why the
/// headers are refused.
pub type SignedContentResult<'h> = Result<SignedContent<'h>, SignatureError>;

/// One signature scheme: how a provider signs, how to check it, and how its verified
/// bodies read as events.
pub trait Scheme {
    /// Reads the signature headers: the signed content's prefix, the signatures offered,
    /// and what the headers claim; checks the signed timestamp against `window`. Refuses
    /// missing, oversized or malformed headers. Computes no MAC.
    fn signed_content<'h>(&'h self, headers: &'h dyn Headers, window: ReplayWindow) -> SignedContentResult<'h>;

    /// Checks `body` against the signature headers under any of `secrets`.
    fn verify<'h>(
        &'h self,
        headers: &'h dyn Headers,
        body: &[u8],
        secrets: &[Secret],
        window: ReplayWindow,
    ) -> Result<SignedHeaders<'h>, SignatureError> {
        self.signed_content(headers, window)?.verify(body, secrets)
    }

    /// The headers [`verify`](Self::verify) reads, so a caller can fetch just those. A
    /// configured profile that signs `{url}` lists [`URL_HEADER`](super::URL_HEADER),
    /// which the caller fills with the request's URL.
    fn header_names(&self) -> Vec<&str>;

    /// The headers a provider would send for `input`, one signature per secret.
    fn sign(&self, input: &SigningInput<'_>, secrets: &[Secret]) -> Vec<(String, String)>;

    /// Reads a verified body (a JSON object) in the provider's format: event id, type,
    /// creation time and payload. `signed` holds what the signature headers proved.
    fn read_event(&self, object: Map<String, Value>, signed: &SignedHeaders<'_>) -> Result<EventParts, EventError>;

    /// Refuses headers sent beside the signature (so not signed) that disagree with the
    /// signed body (a JSON object), before [`read_event`](Self::read_event) reads it. By
    /// default there are none to check.
    fn check_headers(&self, _object: &Map<String, Value>, _signed: &SignedHeaders<'_>) -> Result<(), SignatureError> {
        Ok(())
    }

    /// The projection rules every source of this scheme gets before its own; by default
    /// none (such a source names the documents it wants in its configuration).
    fn builtin_rules(&self) -> Vec<ProjectionRule> {
        Vec::new()
    }

    /// A secret in the form the provider hands out, for tests, examples and dry runs.
    fn example_secret(&self) -> &'static str {
        "demo-secret-for-tests"
    }

    /// Reads a configured secret (already trimmed). By default, its bytes as the key.
    fn parse_secret(&self, configured: &str) -> Result<Secret, SecretError> {
        if configured.is_empty() {
            Err(SecretError::Empty)
        } else {
            Ok(Secret::from_bytes(configured.as_bytes()))
        }
    }

    /// The replay tolerance a source gets unless configured.
    fn default_tolerance_secs(&self) -> u64 {
        300
    }

    /// Whether the replay window applies to the body's `created`: for a scheme that signs
    /// no timestamp.
    fn window_on_body_created(&self) -> bool {
        false
    }

    /// Whether its events say when they happened (a `created` it reads from the body). A
    /// signed timestamp does not count: providers sign each attempt, so a retry's is newer
    /// than the event. Without one, a source that projects must say where the time is
    /// (`"created"` in its configuration), or projection would follow arrival order.
    fn reads_event_time(&self) -> bool {
        true
    }
}
