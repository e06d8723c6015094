//! HMAC (SHA-256, or a configured profile's SHA-1 or SHA-512) with the Workers runtime's
//! WebCrypto, for large bodies.
//!
//! wasm has no SHA extensions: hashing 64 KiB in wasm costs several times what the
//! runtime's native BoringSSL does (bench/load/README.md has the figures). Small bodies
//! stay in wasm, where a MAC costs less than the promise round trip WebCrypto needs.
//! Only the MAC moves: which headers, which content and the constant-time comparison
//! remain core's ([`hookfeed_core::PendingDelivery`]).

use std::cell::RefCell;
use std::collections::HashMap;

use hookfeed_core::mac::Tag;
use hookfeed_core::source::Source;
use hookfeed_core::PendingDelivery;
use js_sys::futures::JsFuture;
use js_sys::{Array, Object, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use worker::Result;

thread_local! {
    /// Imported keys by source name, in the order of the source's secrets. Secrets change
    /// only with a deploy, which starts new isolates.
    static KEYS: RefCell<HashMap<String, Vec<web_sys::CryptoKey>>> = RefCell::new(HashMap::new());
}

fn subtle() -> Result<web_sys::SubtleCrypto> {
    let crypto = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))?;
    Ok(crypto.unchecked_into::<web_sys::Crypto>().subtle())
}

/// The source's secrets as non-extractable HMAC keys for `hash` (one per source: its
/// scheme fixes the hash), imported once per isolate.
async fn keys(subtle: &web_sys::SubtleCrypto, source: &Source, hash: &str) -> Result<Vec<web_sys::CryptoKey>> {
    if let Some(keys) = KEYS.with(|k| k.borrow().get(&source.name).cloned()) {
        return Ok(keys);
    }
    let algorithm = Object::new();
    js_sys::Reflect::set(&algorithm, &"name".into(), &"HMAC".into())?;
    js_sys::Reflect::set(&algorithm, &"hash".into(), &hash.into())?;
    let usages = Array::of1(&"sign".into());
    let mut keys = Vec::with_capacity(source.secrets.len());
    for secret in &source.secrets {
        let raw = Uint8Array::from(secret.expose());
        let key = JsFuture::from(subtle.import_key_with_object("raw", &raw, &algorithm, false, &usages)?).await?;
        keys.push(key.unchecked_into());
    }
    KEYS.with(|k| k.borrow_mut().insert(source.name.clone(), keys.clone()));
    Ok(keys)
}

/// The MAC of `prefix ++ body ++ suffix` (as `pending` says) under each of the source's
/// secrets, in their order. `body` is the platform's buffer of the raw body, so it is
/// never copied out of wasm when nothing surrounds it.
pub async fn macs(source: &Source, pending: &PendingDelivery<'_>, body: &JsValue) -> Result<Vec<Tag>> {
    let subtle = subtle()?;
    let algorithm = pending.algorithm();
    let keys = keys(&subtle, source, algorithm.webcrypto_name()).await?;
    let (prefix, suffix) = (pending.prefix(), pending.suffix());
    let data: Object = if prefix.is_empty() && suffix.is_empty() {
        body.clone().unchecked_into()
    } else {
        let body = Uint8Array::new(body);
        let joined = Uint8Array::new_with_length(prefix.len() as u32 + body.length() + suffix.len() as u32);
        joined.set(&Uint8Array::from(prefix.as_slice()), 0);
        joined.set(&body, prefix.len() as u32);
        joined.set(&Uint8Array::from(suffix.as_slice()), prefix.len() as u32 + body.length());
        joined.into()
    };
    let mut macs = Vec::with_capacity(keys.len());
    for key in &keys {
        let signature = JsFuture::from(subtle.sign_with_str_and_buffer_source("HMAC", key, &data)?).await?;
        // A tag of another length than the hash's cannot match: core compares lengths too.
        macs.push(Tag::from_slice(&Uint8Array::new(&signature).to_vec()));
    }
    Ok(macs)
}
