//! A sample delivery body for every known event type: both providers' documented
//! payloads (verbatim where the docs show one), plus one or two per generic scheme.
//!
//! The CLI sends them, the tests sign and verify them, the benchmarks time them. This
//! table is the one list of known event types.

use serde_json::{Map, Value};

use crate::signature::Scheme;
use crate::time::UnixTime;

/// One sample body.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// The scheme (and so the body format) it belongs to.
    pub scheme: Scheme,
    /// Its event type; for GitHub, the `X-GitHub-Event` header.
    pub event_type: &'static str,
    /// The body, as the provider documents it.
    pub body: &'static str,
}

macro_rules! sample {
    ($scheme:ident, $type:literal, $file:literal) => {
        Sample { scheme: Scheme::$scheme, event_type: $type, body: include_str!(concat!("../samples/", $file)) }
    };
}

/// Every sample.
pub const SAMPLES: &[Sample] = &[
    sample!(Percify, "audio.completed", "percify/audio.completed.json"),
    sample!(Percify, "avatar.completed", "percify/avatar.completed.json"),
    sample!(Percify, "avatar.failed", "percify/avatar.failed.json"),
    sample!(Percify, "avatar.published", "percify/avatar.published.json"),
    sample!(Percify, "credits.low_balance", "percify/credits.low_balance.json"),
    sample!(Percify, "credits.purchased", "percify/credits.purchased.json"),
    sample!(Percify, "tier.upgraded", "percify/tier.upgraded.json"),
    sample!(Percify, "video.completed", "percify/video.completed.json"),
    sample!(Percify, "video.failed", "percify/video.failed.json"),
    sample!(Percify, "voice.cloned", "percify/voice.cloned.json"),
    sample!(TwinActor, "credits.depleted", "twin-actor/credits.depleted.json"),
    sample!(TwinActor, "credits.low", "twin-actor/credits.low.json"),
    sample!(TwinActor, "project.completed", "twin-actor/project.completed.json"),
    sample!(TwinActor, "project.created", "twin-actor/project.created.json"),
    sample!(TwinActor, "project.failed", "twin-actor/project.failed.json"),
    sample!(TwinActor, "project.processing", "twin-actor/project.processing.json"),
    sample!(TwinActor, "voice_clone.completed", "twin-actor/voice_clone.completed.json"),
    sample!(TwinActor, "voice_clone.failed", "twin-actor/voice_clone.failed.json"),
    sample!(StandardWebhooks, "job.completed", "standard-webhooks/job.completed.json"),
    sample!(StandardWebhooks, "job.processing", "standard-webhooks/job.processing.json"),
    sample!(Stripe, "payment_intent.succeeded", "stripe/payment_intent.succeeded.json"),
    sample!(Github, "issues", "github/issues.json"),
];

/// The known event types of `scheme`.
pub fn event_types(scheme: Scheme) -> impl Iterator<Item = &'static str> {
    SAMPLES.iter().filter(move |s| s.scheme == scheme).map(|s| s.event_type)
}

/// The sample for `event_type` of `scheme`.
pub fn sample(scheme: Scheme, event_type: &str) -> Option<&'static Sample> {
    SAMPLES.iter().find(|s| s.scheme == scheme && s.event_type == event_type)
}

/// Why a sample could not be filled in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SampleError {
    /// An override's path runs through a value that is not an object.
    #[error("cannot set `{0}`: a field on its path is not an object")]
    NotAnObject(String),
    /// The body to fill in is not a JSON object.
    #[error("body is not a JSON object")]
    BodyNotAnObject,
}

impl Sample {
    /// The sample with a fresh event id and creation time, and `overrides` applied to
    /// its `data` (dotted paths; GitHub bodies have no `data`, so paths start at the root).
    pub fn render(
        &self,
        event_id: &str,
        created: UnixTime,
        overrides: &[(String, Value)],
    ) -> Result<Vec<u8>, SampleError> {
        let mut body: Value = serde_json::from_str(self.body).map_err(|_| SampleError::BodyNotAnObject)?;
        let root = body.as_object_mut().ok_or(SampleError::BodyNotAnObject)?;
        match self.scheme {
            Scheme::Percify => {
                root.insert("id".into(), event_id.into());
                root.insert("created".into(), created.to_rfc3339().into());
            }
            Scheme::TwinActor => {
                root.insert("id".into(), event_id.into());
                root.insert("created_at".into(), created.to_rfc3339().into());
            }
            Scheme::Stripe => {
                root.insert("id".into(), event_id.into());
                root.insert("created".into(), created.as_secs().into());
            }
            Scheme::StandardWebhooks => {
                root.insert("timestamp".into(), created.to_rfc3339().into());
            }
            Scheme::Github => {}
        }
        let target = if self.scheme == Scheme::Github {
            root
        } else {
            root.entry("data")
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .ok_or_else(|| SampleError::NotAnObject("data".into()))?
        };
        for (path, value) in overrides {
            set_path(target, path, value.clone())?;
        }
        Ok(serde_json::to_vec(&body).unwrap_or_default())
    }
}

fn set_path(object: &mut Map<String, Value>, dotted: &str, value: Value) -> Result<(), SampleError> {
    let (head, rest) = match dotted.split_once('.') {
        Some((head, rest)) => (head, Some(rest)),
        None => (dotted, None),
    };
    match rest {
        None => {
            object.insert(head.to_owned(), value);
            Ok(())
        }
        Some(rest) => {
            let inner = object.entry(head).or_insert_with(|| Value::Object(Map::new()));
            let inner = inner.as_object_mut().ok_or_else(|| SampleError::NotAnObject(dotted.to_owned()))?;
            set_path(inner, rest, value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_providers_have_every_documented_event_type() {
        let twin: Vec<_> = event_types(Scheme::TwinActor).collect();
        for t in [
            "project.created",
            "project.processing",
            "project.completed",
            "project.failed",
            "voice_clone.completed",
            "voice_clone.failed",
            "credits.low",
            "credits.depleted",
        ] {
            assert!(twin.contains(&t), "twin-actor lacks {t}");
        }
        let percify: Vec<_> = event_types(Scheme::Percify).collect();
        for t in [
            "avatar.completed",
            "avatar.failed",
            "avatar.published",
            "video.completed",
            "video.failed",
            "audio.completed",
            "voice.cloned",
            "credits.low_balance",
            "credits.purchased",
            "tier.upgraded",
        ] {
            assert!(percify.contains(&t), "percify lacks {t}");
        }
    }

    #[test]
    fn render_sets_fresh_id_time_and_overrides() {
        let s = sample(Scheme::TwinActor, "project.completed").expect("sample");
        let body = s
            .render(
                "evt_1",
                UnixTime::from_secs(1_700_000_000),
                &[("project_id".into(), Value::from(7)), ("meta.retry".into(), Value::from(true))],
            )
            .expect("renders");
        let v: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["id"], "evt_1");
        assert_eq!(v["created_at"], "2023-11-14T22:13:20Z");
        assert_eq!(v["data"]["project_id"], 7);
        assert_eq!(v["data"]["meta"]["retry"], true);
        assert_eq!(v["type"], "project.completed");
    }
}
