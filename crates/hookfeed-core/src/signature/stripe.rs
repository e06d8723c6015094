//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…][,v0=…]` over `"{t}.{raw body}"`.
//!
//! Stripe's docs ("Verify webhook signatures manually"): the key is the endpoint's
//! `whsec_…` string used as-is (not base64-decoded), only `v1` is checked, other schemes
//! are ignored, and the default tolerance is five minutes.

use serde_json::{Map, Value};

use super::body::{samples, BodyLayout, SampleBody};
use super::content::{Headers, ReplayWindow, SignedContent, SignedHeaders, SigningInput};
use super::header::{format_timestamped_hex, parse_timestamped_hex, required};
use super::scheme::{Scheme, SignedContentResult};
use crate::event::{EventError, EventParts};
use crate::secret::Secret;
use crate::time::TimeFormat;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "Stripe-Signature";

/// Where Stripe's events keep themselves: `id`, `type`, `created` (Unix seconds), `data`.
pub const BODY: BodyLayout = BodyLayout::envelope("created", TimeFormat::Unix);

/// The provider's documented bodies, one per event type.
pub const SAMPLES: &[SampleBody] = samples!("stripe": "payment_intent.succeeded");

/// The Stripe scheme.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stripe;

impl Scheme for Stripe {
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

    fn read_event(&self, object: Map<String, Value>, signed: &SignedHeaders<'_>) -> Result<EventParts, EventError> {
        BODY.read(object, signed)
    }

    fn example_secret(&self) -> &'static str {
        "whsec_test_secret_1234567890"
    }
}
