//! Identity providers' tokens: their keys, fetched and cached in the isolate, and their
//! RS256/ES256 signatures, verified with the runtime's WebCrypto.
//!
//! Which claims must hold, which key a token may use and what it grants are core's
//! ([`hookfeed_core::identity`]); this module only fetches the JWKS and runs the one
//! check wasm has no native code for. Keys are fetched on first use, again when a token
//! names a key not held (at most once per
//! [`REFRESH_COOLDOWN_SECS`](hookfeed_core::identity::REFRESH_COOLDOWN_SECS), so made-up
//! `kid`s cannot make the isolate hammer the provider), and when older than
//! [`KEYS_MAX_AGE_SECS`](hookfeed_core::identity::KEYS_MAX_AGE_SECS).

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use hookfeed_core::identity::{
    IdentityToken, Jwk, JwkSet, KeyAlgorithm, KEYS_MAX_AGE_SECS, MAX_JWKS_BYTES, REFRESH_COOLDOWN_SECS,
};
use hookfeed_core::token::{TokenClaims, TokenError};
use js_sys::futures::JsFuture;
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use crate::hop::now;

/// One provider's keys, by JWKS URL.
#[derive(Default)]
struct ProviderKeys {
    /// The last JWKS fetched.
    set: JwkSet,
    /// When it was fetched (Unix seconds); `None` until a fetch succeeds.
    fetched_at: Option<i64>,
    /// When a fetch was last begun, successful or not: the cooldown counts from it.
    attempted_at: Option<i64>,
    /// A fetch is under way: other requests wait for it rather than start their own.
    fetching: bool,
    /// WebCrypto keys imported from `set`, by (kid, algorithm).
    imported: HashMap<(Option<String>, &'static str), web_sys::CryptoKey>,
}

thread_local! {
    static KEYS: RefCell<HashMap<String, ProviderKeys>> = RefCell::new(HashMap::new());
}

/// How long a request waits for another's fetch of the same keys.
const WAIT_FOR_FETCH: Duration = Duration::from_secs(5);

/// Verifies `pending`'s signature with its provider's key and gives its grants.
pub async fn verify(pending: IdentityToken<'_, '_>) -> Result<TokenClaims, TokenError> {
    let url = pending.provider.jwks_url.clone();
    let jwk = key_for(&url, &pending).await?;
    let Ok(key) = imported(&url, &jwk, pending.alg).await else {
        // A published key WebCrypto refuses to import cannot have signed anything.
        return Err(pending.unknown_key());
    };
    let verified = match verify_signature(&key, pending.alg, &pending.signature, pending.signed.as_bytes()).await {
        Ok(verified) => verified,
        Err(e) => {
            worker::console_error!("could not verify an identity token's signature: {e:?}");
            false
        }
    };
    pending.accept(verified)
}

/// Whether the keys held for `url` must be fetched before `pending` can be checked: none
/// held, or stale, or (for a token that has not expired) none of them its key.
fn must_fetch(keys: Option<&ProviderKeys>, pending: &IdentityToken<'_, '_>, now: i64) -> bool {
    let Some(keys) = keys else { return true };
    let cooled = keys.attempted_at.is_none_or(|at| now - at >= REFRESH_COOLDOWN_SECS);
    let stale = keys.fetched_at.is_none_or(|at| now - at >= KEYS_MAX_AGE_SECS);
    cooled && (stale || (pending.key(&keys.set).is_none() && pending.may_refetch_keys()))
}

/// The key of the provider's JWKS that `pending` names, fetching the JWKS if needed.
async fn key_for(url: &str, pending: &IdentityToken<'_, '_>) -> Result<Jwk, TokenError> {
    let started = now().as_secs();
    loop {
        let fetching = KEYS.with(|k| k.borrow().get(url).is_some_and(|keys| keys.fetching));
        if !fetching {
            break;
        }
        if now().as_secs() - started > WAIT_FOR_FETCH.as_secs() as i64 {
            return Err(TokenError::KeysUnavailable);
        }
        worker::Delay::from(Duration::from_millis(20)).await;
    }
    let now = now().as_secs();
    let fetch = KEYS.with(|k| {
        let mut keys = k.borrow_mut();
        let fetch = must_fetch(keys.get(url), pending, now);
        if fetch {
            let entry = keys.entry(url.to_owned()).or_default();
            entry.fetching = true;
            entry.attempted_at = Some(now);
        }
        fetch
    });
    if fetch {
        let fetched = fetch_jwks(url).await;
        KEYS.with(|k| {
            let mut keys = k.borrow_mut();
            let entry = keys.entry(url.to_owned()).or_default();
            entry.fetching = false;
            match fetched {
                Ok(set) => {
                    entry.set = set;
                    entry.fetched_at = Some(now);
                    entry.imported.clear();
                }
                // The keys held go on being used: a provider's outage does not sign
                // everyone out. Without any, the token cannot be checked (503).
                Err(e) => worker::console_error!("could not fetch the JWKS of {url}: {e}"),
            }
        });
    }
    KEYS.with(|k| {
        let keys = k.borrow();
        let Some(entry) = keys.get(url).filter(|e| e.fetched_at.is_some()) else {
            return Err(TokenError::KeysUnavailable);
        };
        pending.key(&entry.set).cloned().ok_or_else(|| pending.unknown_key())
    })
}

/// Fetches and reads a JWKS document.
async fn fetch_jwks(url: &str) -> Result<JwkSet, String> {
    let parsed = worker::Url::parse(url).map_err(|e| e.to_string())?;
    let mut response = worker::Fetch::Url(parsed).send().await.map_err(|e| e.to_string())?;
    if response.status_code() != 200 {
        return Err(format!("it answered {}", response.status_code()));
    }
    let declared = response.headers().get("content-length").ok().flatten().and_then(|l| l.parse::<usize>().ok());
    if declared.is_some_and(|len| len > MAX_JWKS_BYTES) {
        return Err(format!("it is larger than {MAX_JWKS_BYTES} bytes"));
    }
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    JwkSet::parse(&bytes).map_err(|e| e.to_string())
}

fn subtle() -> worker::Result<web_sys::SubtleCrypto> {
    let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))?;
    Ok(crypto.unchecked_into::<web_sys::Crypto>().subtle())
}

fn object(entries: &[(&str, &str)]) -> worker::Result<Object> {
    let object = Object::new();
    for (name, value) in entries {
        Reflect::set(&object, &JsValue::from_str(name), &JsValue::from_str(value))?;
    }
    Ok(object)
}

/// WebCrypto's name and parameters for `alg`'s keys.
fn import_algorithm(alg: KeyAlgorithm) -> worker::Result<Object> {
    match alg {
        KeyAlgorithm::Rs256 => object(&[("name", "RSASSA-PKCS1-v1_5"), ("hash", "SHA-256")]),
        KeyAlgorithm::Es256 => object(&[("name", "ECDSA"), ("namedCurve", "P-256")]),
    }
}

/// `jwk` as a WebCrypto key for verifying, imported once per isolate and JWKS fetch.
/// Only the public parts core checked are passed on (not `key_ops` or `use`, which
/// could contradict the import).
async fn imported(url: &str, jwk: &Jwk, alg: KeyAlgorithm) -> worker::Result<web_sys::CryptoKey> {
    let id = (jwk.kid.clone(), alg.name());
    if let Some(key) = KEYS.with(|k| k.borrow().get(url).and_then(|keys| keys.imported.get(&id).cloned())) {
        return Ok(key);
    }
    let part = |p: &Option<String>| p.clone().unwrap_or_default();
    let key_data = match alg {
        KeyAlgorithm::Rs256 => object(&[("kty", "RSA"), ("n", &part(&jwk.n)), ("e", &part(&jwk.e))])?,
        KeyAlgorithm::Es256 => object(&[("kty", "EC"), ("crv", "P-256"), ("x", &part(&jwk.x)), ("y", &part(&jwk.y))])?,
    };
    let usages = Array::of1(&JsValue::from_str("verify"));
    let promise = subtle()?.import_key_with_object("jwk", &key_data, &import_algorithm(alg)?, false, &usages)?;
    let key: web_sys::CryptoKey = JsFuture::from(promise).await?.unchecked_into();
    KEYS.with(|k| {
        if let Some(keys) = k.borrow_mut().get_mut(url) {
            keys.imported.insert(id, key.clone());
        }
    });
    Ok(key)
}

/// WebCrypto's verdict on `signature` over `data`.
async fn verify_signature(
    key: &web_sys::CryptoKey,
    alg: KeyAlgorithm,
    signature: &[u8],
    data: &[u8],
) -> worker::Result<bool> {
    let algorithm = match alg {
        KeyAlgorithm::Rs256 => object(&[("name", "RSASSA-PKCS1-v1_5")])?,
        // A JWT's ES256 signature is `r ‖ s`, the form WebCrypto takes.
        KeyAlgorithm::Es256 => object(&[("name", "ECDSA"), ("hash", "SHA-256")])?,
    };
    let promise = subtle()?.verify_with_object_and_u8_array_and_u8_array(&algorithm, key, signature, data)?;
    Ok(JsFuture::from(promise).await?.as_bool().unwrap_or(false))
}
