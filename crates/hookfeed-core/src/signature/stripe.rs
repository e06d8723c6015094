//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…][,v0=…]` over `"{t}.{raw body}"`.
//!
//! Stripe's docs ("Verify webhook signatures manually"): the key is the endpoint's
//! `whsec_…` string used as-is (not base64-decoded), only `v1` is checked, other schemes
//! are ignored, and the default tolerance is five minutes.

use serde_json::{Map, Value};

use super::{
    format_timestamped_hex, parse_timestamped_hex, required, EventResult, Headers, ReplayWindow, SignatureScheme,
    SignedContent, SignedContentResult, SignedHeaders, SigningInput,
};
use crate::event::{take_data, take_string, EventError, EventParts};
use crate::secret::Secret;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "Stripe-Signature";

/// The Stripe scheme.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stripe;

impl SignatureScheme for Stripe {
    fn signed_content<'h>(&'h self, headers: &'h dyn Headers, window: ReplayWindow) -> SignedContentResult<'h> {
        let (timestamp, t, candidates) = parse_timestamped_hex(required(headers, SIGNATURE_HEADER)?, SIGNATURE_HEADER)?;
        window.check(timestamp)?;
        // The digits as sent are what was signed.
        let claims = SignedHeaders { timestamp: Some(timestamp), ..SignedHeaders::default() };
        Ok(SignedContent::new(&[t.as_bytes(), b"."], candidates, claims))
    }

    fn header_names(&self) -> Vec<&str> {
        vec![SIGNATURE_HEADER]
    }

    fn sign(&self, input: &SigningInput<'_>, secrets: &[Secret]) -> Vec<(String, String)> {
        let t = input.timestamp.as_secs().to_string();
        vec![(
            SIGNATURE_HEADER.to_owned(),
            format_timestamped_hex(input.timestamp, &[t.as_bytes(), b".", input.body], secrets),
        )]
    }

    fn read_event(&self, mut object: Map<String, Value>, _signed: &SignedHeaders<'_>) -> EventResult {
        let not_unix = EventError::InvalidField { field: "created", reason: "not Unix seconds" };
        let created = match object.get("created") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(crate::time::UnixTime::from_secs(n.as_i64().ok_or(not_unix.clone())?)),
            Some(_) => return Err(not_unix.into()),
        };
        Ok(EventParts {
            id: take_string(&mut object, "id")?,
            event_type: take_string(&mut object, "type")?,
            created,
            data: take_data(&mut object),
        })
    }

    fn example_secret(&self) -> &'static str {
        "whsec_test_secret_1234567890"
    }
}
