//! A sample delivery body for every known event type: both providers' documented
//! payloads (verbatim where the docs show one), plus one or two per generic scheme.
//!
//! The CLI sends them, the tests sign and verify them, the benchmarks time them. Each
//! scheme's module lists its own ([`BuiltinScheme::samples`]); this module gathers them from the
//! registry and fills one in by the scheme's [`BodyLayout`](crate::signature::BodyLayout).

use serde_json::Value;

use crate::signature::BuiltinScheme;
use crate::time::UnixTime;

/// One sample body.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// The scheme (and so the body format) it belongs to.
    pub scheme: BuiltinScheme,
    /// Its event type; for GitHub, the `X-GitHub-Event` header.
    pub event_type: &'static str,
    /// The body, as the provider documents it.
    pub body: &'static str,
}

/// Every sample of every scheme, in the registry's order.
pub fn all() -> impl Iterator<Item = Sample> {
    BuiltinScheme::ALL.into_iter().flat_map(|scheme| {
        scheme.samples().iter().map(move |s| Sample { scheme, event_type: s.event_type, body: s.body })
    })
}

/// The known event types of `scheme`.
pub fn event_types(scheme: BuiltinScheme) -> impl Iterator<Item = &'static str> {
    scheme.samples().iter().map(|s| s.event_type)
}

/// The sample for `event_type` of `scheme`.
pub fn sample(scheme: BuiltinScheme, event_type: &str) -> Option<Sample> {
    all().find(|s| s.scheme == scheme && s.event_type == event_type)
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
    /// The sample with a fresh event id and creation time where its scheme's bodies keep
    /// them, and `overrides` applied to its payload (dotted paths; GitHub bodies are the
    /// payload, so there paths start at the root). The sample's URLs name its own ids
    /// (`project_42_final.mp4`): where an override gives such a field another value, they
    /// follow (`project_id` 7: `project_7_final.mp4`).
    pub fn render(
        &self,
        event_id: &str,
        created: UnixTime,
        overrides: &[(String, Value)],
    ) -> Result<Vec<u8>, SampleError> {
        let layout = self.scheme.body_layout();
        let mut body: Value = serde_json::from_str(self.body).map_err(|_| SampleError::BodyNotAnObject)?;
        let root = body.as_object_mut().ok_or(SampleError::BodyNotAnObject)?;
        layout.stamp(root, event_id, created);
        let data = layout.data_mut(root).ok_or_else(|| SampleError::NotAnObject("data".into()))?;
        // The ids the sample's URLs name, before the overrides replace them.
        let renamed: Vec<(String, String)> = overrides
            .iter()
            .filter_map(|(path, new)| {
                let old = lookup(data, path)?;
                Some((id_text(old)?, id_text(new)?)).filter(|(old, new)| old != new)
            })
            .collect();
        for (path, value) in overrides {
            set_path(data, path, value.clone())?;
        }
        if !renamed.is_empty() {
            replace_in_urls(data, &renamed);
        }
        Ok(serde_json::to_vec(&body).unwrap_or_default())
    }
}

fn set_path(object: &mut serde_json::Map<String, Value>, dotted: &str, value: Value) -> Result<(), SampleError> {
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
            let inner = object.entry(head).or_insert_with(|| Value::Object(serde_json::Map::new()));
            let inner = inner.as_object_mut().ok_or_else(|| SampleError::NotAnObject(dotted.to_owned()))?;
            set_path(inner, rest, value)
        }
    }
}

/// The value at a dotted path of `object`.
fn lookup<'v>(object: &'v serde_json::Map<String, Value>, dotted: &str) -> Option<&'v Value> {
    let mut parts = dotted.split('.');
    let mut value = object.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

/// The text an id field shows in a URL: a string's, or an integer's digits.
fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) if number.is_i64() || number.is_u64() => Some(number.to_string()),
        _ => None,
    }
}

/// Longest a URL may grow to by following renamed ids: the renames are the caller's own
/// values, and a URL past this is left as the sample has it rather than grown further.
const MAX_FOLLOWED_URL_LEN: usize = 2048;

/// Follows `renamed` (old id, new id) in every URL string (one holding `://`) of `object`:
/// all renames in one pass over each string, so that no rename's output is fed to the next
/// (chained renames would multiply a URL's length at every step).
fn replace_in_urls(object: &mut serde_json::Map<String, Value>, renamed: &[(String, String)]) {
    fn visit(value: &mut Value, renamed: &[(String, String)]) {
        match value {
            Value::String(text) if text.contains("://") => {
                if let Some(followed) = replace_standalone(text, renamed) {
                    *text = followed;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| visit(item, renamed)),
            Value::Object(map) => map.values_mut().for_each(|item| visit(item, renamed)),
            _ => {}
        }
    }
    object.values_mut().for_each(|value| visit(value, renamed));
}

/// `text` with each old id of `renamed` that no letter or digit touches replaced by its
/// new one, scanning once from the left (the longest old id first where several start at
/// one place); `None` if it would grow past [`MAX_FOLLOWED_URL_LEN`].
fn replace_standalone(text: &str, renamed: &[(String, String)]) -> Option<String> {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let mut by_length: Vec<&(String, String)> = renamed.iter().filter(|(old, _)| !old.is_empty()).collect();
    by_length.sort_by_key(|(old, _)| std::cmp::Reverse(old.len()));
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while at < text.len() {
        let rest = &text[at..];
        let before = out.chars().next_back();
        let hit = by_length.iter().find(|(old, _)| {
            rest.starts_with(old.as_str()) && !word(before) && !word(rest[old.len()..].chars().next())
        });
        match hit {
            Some((old, new)) => {
                out.push_str(new);
                at += old.len();
            }
            None => {
                let c = rest.chars().next()?;
                out.push(c);
                at += c.len_utf8();
            }
        }
        if out.len() > MAX_FOLLOWED_URL_LEN.max(text.len()) {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The event types each provider's docs list.
    const TWIN_ACTOR_TYPES: [&str; 8] = [
        "project.created",
        "project.processing",
        "project.completed",
        "project.failed",
        "voice_clone.completed",
        "voice_clone.failed",
        "credits.low",
        "credits.depleted",
    ];
    const PERCIFY_TYPES: [&str; 10] = [
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
    ];

    #[test]
    fn both_providers_have_every_documented_event_type() {
        for (scheme, types) in
            [(BuiltinScheme::TwinActor, &TWIN_ACTOR_TYPES[..]), (BuiltinScheme::Percify, &PERCIFY_TYPES[..])]
        {
            let known: Vec<_> = event_types(scheme).collect();
            for t in types {
                assert!(known.contains(t), "{scheme} lacks {t}");
            }
        }
    }

    #[test]
    fn render_sets_fresh_id_time_and_overrides() {
        let s = sample(BuiltinScheme::TwinActor, "project.completed").expect("sample");
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

    #[test]
    fn an_id_is_replaced_only_where_it_stands_alone() {
        let one = |old: &str, new: &str| vec![(old.to_owned(), new.to_owned())];
        let follow = |text: &str, renamed: &[(String, String)]| replace_standalone(text, renamed).expect("bounded");
        assert_eq!(follow("https://x/project_42_final.mp4", &one("42", "7")), "https://x/project_7_final.mp4");
        assert_eq!(follow("https://x/42/a42/421/42", &one("42", "7")), "https://x/7/a42/421/7");
        assert_eq!(follow("video_abc123_thumb.jpg", &one("video_abc123", "v9")), "v9_thumb.jpg");
    }

    #[test]
    fn sample_urls_follow_the_ids_set() {
        let sample = sample_of(BuiltinScheme::TwinActor, "project.completed");
        let overrides = [("project_id".to_owned(), Value::from(7))];
        let rendered = sample.render("evt_1", UnixTime::from_secs(1_700_000_000), &overrides).expect("renders");
        let body: Value = serde_json::from_slice(&rendered).expect("json");
        assert_eq!(body["data"]["project_id"], 7);
        assert_eq!(body["data"]["video_url"], "https://storage.twin.actor/videos/project_7_final.mp4");
        assert_eq!(body["data"]["thumbnail_url"], "https://storage.twin.actor/thumbs/project_7.jpg");
        assert_eq!(body["data"]["person_id"], 1, "other fields are left alone");

        let sample = sample_of(BuiltinScheme::Percify, "video.completed");
        let overrides = [("videoId".to_owned(), Value::from("video_9"))];
        let rendered = sample.render("evt_1", UnixTime::from_secs(1_700_000_000), &overrides).expect("renders");
        let body: Value = serde_json::from_slice(&rendered).expect("json");
        assert_eq!(body["data"]["videoUrl"], "https://cdn.percify.io/videos/video_9.mp4");
        assert_eq!(body["data"]["thumbnailUrl"], "https://cdn.percify.io/videos/video_9_thumb.jpg");
    }

    fn sample_of(scheme: BuiltinScheme, event_type: &str) -> Sample {
        sample(scheme, event_type).expect("sample")
    }

    proptest::proptest! {
        /// Overrides whose values repeat other fields' ids (the chain that once multiplied
        /// a URL at every rename) grow a sample by at most what they bring, plus a bounded
        /// amount per URL.
        #[test]
        fn following_ids_into_urls_never_grows_a_sample_without_bound(
            pick in 0usize..64,
            repeats in proptest::collection::vec(1usize..60, 1..8),
            seed in "[a-z0-9_]{0,6}",
        ) {
            let all: Vec<Sample> = all().collect();
            let sample = all[pick % all.len()];
            let payload: Value = serde_json::from_str(sample.body).expect("json");
            let layout = sample.scheme.body_layout();
            let data = match layout.data {
                Some(field) => payload[field].as_object().cloned().unwrap_or_default(),
                None => payload.as_object().cloned().unwrap_or_default(),
            };
            // Each override's new value holds the next field's id many times over.
            let fields: Vec<(String, String)> =
                data.iter().filter_map(|(k, v)| Some((k.clone(), id_text(v)?))).collect();
            let overrides: Vec<(String, Value)> = fields
                .iter()
                .zip(fields.iter().cycle().skip(1))
                .zip(repeats.iter().cycle())
                .map(|(((field, _), (_, next_id)), k)| (field.clone(), Value::from(format!("{seed}{}", format!("{next_id}/").repeat(*k)))))
                .collect();
            let body = sample.render("evt_1", UnixTime::from_secs(1_700_000_000), &overrides).expect("renders");
            let brought: usize = overrides.iter().map(|(k, v)| k.len() + v.to_string().len()).sum();
            let urls = sample.body.matches("://").count();
            proptest::prop_assert!(
                body.len() <= sample.body.len() + 2 * brought + urls * (MAX_FOLLOWED_URL_LEN + 64),
                "{} grew to {} bytes from {} brought", sample.event_type, body.len(), brought
            );
        }
    }
}
