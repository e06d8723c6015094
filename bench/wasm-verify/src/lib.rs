//! hookfeed-core's delivery verification compiled to wasm, for `bench/verify.mjs`.
//!
//! The boundary is what a Worker would cross per delivery: the body as the `Uint8Array` it
//! read (copied once into wasm memory by the bindings), the headers the scheme reads (see
//! [`Verifier::header_names`]) as one string of `name: value` lines, and `now` in Unix
//! seconds. The source (scheme, parsed secret, tolerance) is set up once, as a Worker does
//! at start-up; every call then does the work a delivery needs, including setting up the
//! HMAC key (no precomputed key state, as Node's `createHmac` per delivery).

use hmac::{Hmac, Mac};
use hookfeed_core::signature::{Headers, ReplayWindow};
use hookfeed_core::source::{load_sources, Source};
use hookfeed_core::{verify_delivery, BuiltinScheme, UnixTime};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use wasm_bindgen::prelude::*;

/// Request headers as one string of `name: value` lines (`\n`-separated), looked up in
/// place: no per-call allocation for the headers.
struct HeaderLines<'a>(&'a str);

impl Headers for HeaderLines<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        // Byte-wise: a field name has no whitespace before its colon (RFC 9110), so a line
        // is `name` exactly, then `:`. Cheaper in wasm than generic str pattern searches.
        let n = name.len();
        let mut rest = self.0;
        while !rest.is_empty() {
            let end = rest.bytes().position(|b| b == b'\n').unwrap_or(rest.len());
            let line = &rest[..end];
            let bytes = line.as_bytes();
            if bytes.len() > n && bytes[n] == b':' && bytes[..n].eq_ignore_ascii_case(name.as_bytes()) {
                return Some(line[n + 1..].trim());
            }
            rest = rest.get(end + 1..).unwrap_or("");
        }
        None
    }
}

/// One configured source: verifies deliveries signed under its scheme and secret.
#[wasm_bindgen]
pub struct Verifier {
    source: Source,
}

#[wasm_bindgen]
impl Verifier {
    /// A source of `scheme` (`twin-actor`, …) with `secret` as its provider hands it out
    /// (comma-separated for several active secrets).
    #[wasm_bindgen(constructor)]
    pub fn new(scheme: &str, secret: &str) -> Result<Verifier, JsError> {
        let scheme: BuiltinScheme = scheme.parse().map_err(|e| JsError::new(&format!("{e}")))?;
        // Through the configuration path a Worker uses (HOOKFEED_SOURCES + SECRET_<NAME>).
        let config = format!(r#"[{{"name":"{0}","scheme":"{0}"}}]"#, scheme.name());
        let secret = secret.to_owned();
        let mut sources =
            load_sources(&config, &|_| Some(secret.clone())).map_err(|e| JsError::new(&format!("{e}")))?;
        let source = sources.pop().ok_or_else(|| JsError::new("no source"))?;
        Ok(Verifier { source })
    }

    /// The headers this source's scheme reads, lower-case, `\n`-separated: the glue passes
    /// only these, as a Worker would `request.headers.get()` each (and as Node's receiver
    /// reads only these from its header object).
    #[wasm_bindgen(js_name = headerNames)]
    pub fn header_names(&self) -> String {
        let names = self.source.scheme.implementation().header_names();
        names.iter().map(|n| n.to_ascii_lowercase()).collect::<Vec<_>>().join("\n")
    }

    fn window(&self, now_secs: f64) -> ReplayWindow {
        ReplayWindow { now: UnixTime::from_secs(now_secs as i64), tolerance_secs: self.source.tolerance_secs }
    }

    /// The scheme's signature check alone: true when the signature (and timestamp) hold.
    pub fn verify(&self, headers: &str, body: &[u8], now_secs: f64) -> bool {
        self.source
            .scheme
            .implementation()
            .verify(&HeaderLines(headers), body, &self.source.secrets, self.window(now_secs))
            .is_ok()
    }

    /// The full `verify_delivery`: signature, replay window, then the body as an event.
    #[wasm_bindgen(js_name = verifyDelivery)]
    pub fn verify_delivery(&self, headers: &str, body: &[u8], now_secs: f64) -> bool {
        verify_delivery(&self.source, &HeaderLines(headers), body, UnixTime::from_secs(now_secs as i64)).is_ok()
    }

    /// Crosses the boundary with the same arguments and does nothing else: what the
    /// bindings alone cost per delivery (header string and body copied into wasm memory).
    #[wasm_bindgen(js_name = passOnly)]
    pub fn pass_only(&self, headers: &str, body: &[u8], now_secs: f64) -> bool {
        !headers.is_empty() && !body.is_empty() && now_secs > 0.0
    }

    /// The baseline inside wasm: HMAC-SHA256 of `prefix` + `body` under the source's first
    /// key (set up per call, as `verify` does) compared with `expected`, nothing else. What
    /// `verify` costs beyond it is the scheme's own work (headers, decoding, allocation).
    #[wasm_bindgen(js_name = bareHmac)]
    pub fn bare_hmac(&self, prefix: &[u8], body: &[u8], expected: &[u8]) -> bool {
        let Some(secret) = self.source.secrets.first() else {
            return false;
        };
        let Ok(mut mac) = <Hmac<Sha256>>::new_from_slice(secret.expose()) else {
            return false;
        };
        mac.update(prefix);
        mac.update(body);
        mac.finalize().into_bytes().as_slice().ct_eq(expected).into()
    }

    /// Why `verify_delivery` refuses a delivery (its error code), or `"ok"`: for the
    /// benchmark's cross-check, not for the timed path.
    pub fn explain(&self, headers: &str, body: &[u8], now_secs: f64) -> String {
        match verify_delivery(&self.source, &HeaderLines(headers), body, UnixTime::from_secs(now_secs as i64)) {
            Ok(_) => "ok".to_owned(),
            Err(e) => format!("{}: {e}", e.code()),
        }
    }
}
