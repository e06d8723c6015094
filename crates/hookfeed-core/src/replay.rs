//! What identifies a delivery whatever unsigned headers come with it: its signed content.
//!
//! A leaf module (only `sha2`), so that verification (which makes a key) and the ledger
//! (which keeps keys) both depend on it and not on each other.

use sha2::{Digest, Sha256};

/// What identifies a delivery's signed content within its tenant: 16 bytes of SHA-256 over
/// what the signature covers besides the body and the body's digest. Not the source: the
/// path a delivery is posted to is not signed, so a delivery re-posted to a sibling source
/// sharing its secret is the same delivery (sources of different tenants may not share a
/// secret: [`load_sources`](crate::source::load_sources) refuses it).
///
/// A replay of a captured delivery must carry the same signed content (anything else
/// fails the signature), so it has the same key whatever unsigned headers come with it: a
/// fresh `X-GitHub-Delivery` or `X-Shopify-Webhook-Id`, or another `X-GitHub-Event`. The
/// feed keeps keys in a compact table of their own, beside the log and, for deliveries no
/// clock protects ([`VerifiedDelivery::time_protected`](crate::delivery::VerifiedDelivery::time_protected)), longer than it
/// ([`DEFAULT_REPLAY_DAYS`](crate::ledger::retention::DEFAULT_REPLAY_DAYS)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReplayKey(pub [u8; 16]);

impl ReplayKey {
    /// The key of signed content: its context (
    /// [`SignedContent::context_digest`](crate::signature::SignedContent::context_digest))
    /// and its body's SHA-256.
    pub fn new(signed_context: &[u8; 32], body_digest: &[u8; 32]) -> Self {
        let mut hash = Sha256::new();
        hash.update(b"hookfeed replay key v2");
        hash.update(signed_context);
        hash.update(body_digest);
        let full: [u8; 32] = hash.finalize().into();
        let mut key = [0; 16];
        key.copy_from_slice(&full[..16]);
        Self(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_changes_with_each_part_of_the_signed_content_and_only_with_it() {
        let base = ReplayKey::new(&[0; 32], &[1; 32]);
        assert_eq!(base, ReplayKey::new(&[0; 32], &[1; 32]));
        assert_ne!(base, ReplayKey::new(&[2; 32], &[1; 32]));
        assert_ne!(base, ReplayKey::new(&[0; 32], &[3; 32]));
    }
}
