//! Shared secrets that never print.

use std::fmt;

/// An HMAC key as configured for a source or for token signing.
///
/// `Debug` and `Display` print `[REDACTED]`, so a secret can sit inside any config
/// struct that gets logged. The bytes are the key exactly as the scheme uses it: for
/// Standard Webhooks the base64-decoded part after `whsec_`, for every other scheme the
/// configured string's bytes (Stripe's `whsec_…` is used as-is).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// A secret from raw key bytes.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The key bytes, for the MAC.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_key() {
        let secret = Secret::from_bytes("hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert!(!format!("{secret}").contains("hunter2"));
    }
}
