//! A provider's published keys (its JWKS, RFC 7517): read within bounds, and the one key
//! that may verify a token picked by the token's `kid` and algorithm.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

/// Fewest seconds between two fetches of a provider's keys prompted by an unknown `kid`:
/// a flood of tokens naming made-up keys costs the provider at most one request per
/// isolate in this time.
pub const REFRESH_COOLDOWN_SECS: i64 = 10;
/// Keys older than this are fetched again before use, so a key the provider retired
/// stops verifying (on failure, the keys held go on being used).
pub const KEYS_MAX_AGE_SECS: i64 = 600;
/// Largest JWKS document read.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

/// The signature algorithms accepted from an identity provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (Firebase Auth, Auth0, Clerk).
    Rs256,
    /// ECDSA P-256 with SHA-256 (Supabase's asymmetric keys, among others).
    Es256,
}

impl KeyAlgorithm {
    /// The algorithm a JWT header's `alg` names, if accepted.
    pub fn from_alg(alg: &str) -> Option<Self> {
        match alg {
            "RS256" => Some(Self::Rs256),
            "ES256" => Some(Self::Es256),
            _ => None,
        }
    }

    /// The JWK `kty` its keys have.
    pub fn key_type(self) -> &'static str {
        match self {
            Self::Rs256 => "RSA",
            Self::Es256 => "EC",
        }
    }

    /// The `alg` a JWK names when it is for this algorithm.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }
}

/// One public key of a JWKS (RFC 7517), as far as hookfeed reads it. Every part but `kty`
/// is optional: a missing one reads as `None`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Jwk {
    /// Key type: `RSA` or `EC`.
    pub kty: String,
    /// Its id, which tokens name in `kid`.
    pub kid: Option<String>,
    /// The algorithm it is for, if the JWKS says.
    pub alg: Option<String>,
    /// `sig` or `enc`, if the JWKS says.
    #[serde(rename = "use")]
    pub usage: Option<String>,
    /// RSA modulus, base64url.
    pub n: Option<String>,
    /// RSA exponent, base64url.
    pub e: Option<String>,
    /// EC curve (`P-256`).
    pub crv: Option<String>,
    /// EC x coordinate, base64url.
    pub x: Option<String>,
    /// EC y coordinate, base64url.
    pub y: Option<String>,
}

impl Jwk {
    /// Whether the key can verify `alg` signatures: the right type (and curve), for
    /// signing, the algorithm it names (if any) is `alg`, and its parts are whole (an
    /// RSA modulus of at least 2048 bits).
    pub fn fits(&self, alg: KeyAlgorithm) -> bool {
        let decoded_len =
            |part: &Option<String>| part.as_deref().and_then(|p| URL_SAFE_NO_PAD.decode(p).ok()).map(|b| b.len());
        self.kty == alg.key_type()
            && self.usage.as_deref().is_none_or(|u| u == "sig")
            && self.alg.as_deref().is_none_or(|a| a == alg.name())
            && match alg {
                KeyAlgorithm::Rs256 => {
                    decoded_len(&self.n).is_some_and(|n| n >= 256) && decoded_len(&self.e).is_some_and(|e| e > 0)
                }
                KeyAlgorithm::Es256 => {
                    self.crv.as_deref() == Some("P-256")
                        && decoded_len(&self.x) == Some(32)
                        && decoded_len(&self.y) == Some(32)
                }
            }
    }
}

/// A provider's published keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// Why a provider's JWKS document cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// Larger than [`MAX_JWKS_BYTES`].
    #[error("the JWKS document is larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    /// Not a JWKS document.
    #[error("the JWKS document is not JSON of the form {{\"keys\": [...]}}")]
    Malformed,
}

impl JwkSet {
    /// Reads a JWKS document. Keys of a type hookfeed does not use are kept but never fit.
    pub fn parse(bytes: &[u8]) -> Result<Self, JwksError> {
        if bytes.len() > MAX_JWKS_BYTES {
            return Err(JwksError::TooLarge);
        }
        #[derive(Deserialize)]
        struct Loose {
            keys: Vec<Value>,
        }
        let loose: Loose = serde_json::from_slice(bytes).map_err(|_| JwksError::Malformed)?;
        // One odd key (a type with other fields, a stray value) does not hide the others.
        Ok(Self { keys: loose.keys.into_iter().filter_map(|k| serde_json::from_value(k).ok()).collect() })
    }

    /// The key that verifies a token of `alg` naming `kid`. A token without a `kid` is
    /// matched only when exactly one key fits: guessing among several would let a
    /// token choose its key.
    pub fn key_for(&self, kid: Option<&str>, alg: KeyAlgorithm) -> Option<&Jwk> {
        let mut fitting = self.keys.iter().filter(|k| k.fits(alg));
        match kid {
            Some(kid) => fitting.find(|k| k.kid.as_deref() == Some(kid)),
            None => {
                let only = fitting.next()?;
                fitting.next().is_none().then_some(only)
            }
        }
    }
}
