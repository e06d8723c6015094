//! Signature schemes: the registry of the built-in ones, one module each behind one small
//! trait ([`Scheme`], in `scheme`), and the `hmac` scheme a source configures
//! ([`HmacProfile`], in `configured`).
//!
//! Every scheme MACs the raw bytes received (never re-serialised JSON) with HMAC (SHA-256
//! for the built-in schemes; SHA-1, SHA-256 or SHA-512 for a configured [`HmacProfile`]),
//! accepts any of several active secrets (rotation) and any of several signatures in its
//! header, and compares in constant time. Schemes with a signed timestamp check it in both
//! directions against the caller's `now` and the source's tolerance.
//!
//! This file is only the registry: one line per built-in scheme in `schemes!` below. What
//! a scheme is (its headers, signed content, secret format, replay window, body layout,
//! samples and built-in projection rules) lives in its own module; its test vectors are
//! `tests/vectors/<name>.json`. See the crate's README for the steps to add one.

mod body;
pub mod configured;
mod content;
mod error;
mod header;
mod scheme;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use body::{BodyLayout, Field, SampleBody};
pub use configured::{HmacProfile, URL_HEADER};
pub use content::{
    Headers, ReplayWindow, SignedContent, SignedHeaders, SigningInput, MAX_HEADER_LEN, MAX_PIECES, MAX_SIGNATURES,
};
pub use error::{SecretError, SignatureError};
pub use scheme::{Scheme, SignedContentResult};

use crate::projection::ProjectionRule;
use crate::secret::Secret;

/// The schemes hookfeed verifies, one line each: the variant, its configuration name and
/// its implementation. Everything else about a scheme (headers, signed content, secret
/// format, replay window, body format, example secret) lives in the scheme's module.
macro_rules! schemes {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal in $module:ident ),+ $(,)?) => {
        $( pub mod $module; )+

        /// The built-in signature schemes, by their configuration name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum BuiltinScheme {
            $( $(#[$doc])* $variant, )+
        }

        impl BuiltinScheme {
            /// Every scheme, in documentation order.
            pub const ALL: [BuiltinScheme; [$($name),+].len()] = [$(Self::$variant),+];

            /// The configuration name (`twin-actor`).
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)+
                }
            }

            /// The scheme's implementation: it verifies, signs and reads bodies.
            pub fn implementation(self) -> &'static dyn Scheme {
                match self {
                    $(Self::$variant => &$module::$variant,)+
                }
            }

            /// Where its bodies keep the event id, type, time and payload.
            pub fn body_layout(self) -> &'static BodyLayout {
                match self {
                    $(Self::$variant => &$module::BODY,)+
                }
            }

            /// The example bodies its provider documents, one per event type.
            pub fn samples(self) -> &'static [SampleBody] {
                match self {
                    $(Self::$variant => $module::SAMPLES,)+
                }
            }

        }
    };
}

schemes! {
    /// Percify: hex HMAC of the raw body, no timestamp.
    Percify = "percify" in percify,
    /// Twin.Actor: `t=…,v1=…` over `"{t}.{body}"`.
    TwinActor = "twin-actor" in twin_actor,
    /// Standard Webhooks: `v1,<base64>` over `"{id}.{ts}.{body}"`, `whsec_` base64 secrets.
    StandardWebhooks = "standard-webhooks" in standard_webhooks,
    /// Stripe: `t=…,v1=…` over `"{t}.{body}"`, the `whsec_…` string as key.
    Stripe = "stripe" in stripe,
    /// GitHub: `sha256=<hex>` of the raw body.
    Github = "github" in github,
}

impl BuiltinScheme {
    /// The projection rules every source of this scheme gets before its own.
    pub fn builtin_rules(self) -> Vec<ProjectionRule> {
        self.implementation().builtin_rules()
    }

    /// Every scheme's configuration name, comma-separated, for messages.
    pub fn names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }

    /// Reads a configured secret the way this scheme's provider hands it out.
    pub fn parse_secret(self, configured: &str) -> Result<Secret, SecretError> {
        self.implementation().parse_secret(configured.trim())
    }

    /// Whether the replay window applies to the body's `created` (no signed timestamp).
    pub fn window_on_body_created(self) -> bool {
        self.implementation().window_on_body_created()
    }
}

impl fmt::Display for BuiltinScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BuiltinScheme {
    type Err = UnknownScheme;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|s| s.name() == name).ok_or_else(|| UnknownScheme(name.to_owned()))
    }
}

impl Serialize for BuiltinScheme {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for BuiltinScheme {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// A scheme name that is not one of [`BuiltinScheme::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownScheme(pub String);

impl fmt::Display for UnknownScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown scheme `{}`: expected one of {}", crate::refusal::quote(&self.0), BuiltinScheme::names())
    }
}

impl std::error::Error for UnknownScheme {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_names_round_trip() {
        for scheme in BuiltinScheme::ALL {
            assert_eq!(scheme.name().parse::<BuiltinScheme>(), Ok(scheme));
            let json = serde_json::to_string(&scheme).expect("serializes");
            assert_eq!(json, format!("\"{}\"", scheme.name()));
        }
        assert!("paypal".parse::<BuiltinScheme>().is_err());
    }
}
