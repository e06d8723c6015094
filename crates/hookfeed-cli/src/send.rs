//! `hookfeed send`: build a signed delivery, then POST it (or print it with `--dry-run`).

use std::io::{self, Write};
use std::time::Duration;

use hookfeed_core::samples::sample;
use hookfeed_core::signature::configured::HmacProfile;
use hookfeed_core::signature::{Scheme, SigningInput};
use hookfeed_core::source::{secret_var, split_secrets};
use hookfeed_core::{BuiltinScheme, UnixTime};
use serde_json::{json, Value};

use crate::cli::SendArgs;
use crate::clock;
use crate::error::CliError;
use crate::http;
use crate::outgoing::{self, check_source_name, known_types, resolve_scheme};
use crate::secrets::{self, Found, Lookup};
use crate::sent;

/// How far back `--stale` moves a signed timestamp: far outside the default 300 s.
const STALE_SIGNATURE_SECS: i64 = 60 * 60;
/// How far back `--stale` moves a percify body's `created`: outside its 24 h default.
const STALE_PERCIFY_CREATED_SECS: i64 = 48 * 60 * 60;
/// The longest a send may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(30);

/// One delivery, ready to send or print.
#[derive(Debug, Clone)]
pub struct Request {
    /// `{url}/hooks/{source}`.
    pub url: String,
    /// Content type and the scheme's signature headers, in sending order.
    pub headers: Vec<(String, String)>,
    /// The exact bytes sent (tampered after signing with `--tamper`).
    pub body: Vec<u8>,
    /// The event id the delivery carries.
    pub event_id: String,
    /// The creation time stamped into a sample's body (none for a `--body` file).
    pub stamped: Option<UnixTime>,
}

/// Runs `hookfeed send`.
pub fn run(args: &SendArgs, out: &mut dyn Write) -> Result<(), CliError> {
    check_source_name(&args.source)?;
    let url = hooks_url(&args.url, &args.source)?;
    if let Some(profile) = &args.hmac {
        let request = build_hmac(args, profile, url, clock::now()?)?;
        return finish(args, &request, None, out);
    }
    let scheme = resolve_scheme(args.scheme, &args.source)?;
    let found = source_secret(args)?;
    let request = build(args, scheme, url, &found, clock::now()?)?;
    if let (Some(event_id), Some(stamped), false) = (&args.id, request.stamped, args.dry_run) {
        sent::remember(&request.url, event_id, stamped);
    }
    finish(args, &request, Some(&found), out)
}

/// The source's secret: `--secret`, then `SECRET_<SOURCE>` in the environment, `.dev.vars`
/// or `.dev.vars.example`.
fn source_secret(args: &SendArgs) -> Result<Found, CliError> {
    secrets::find(
        Lookup {
            flag: args.secret.as_deref(),
            flag_env: "HOOKFEED_SECRET",
            var: &secret_var(&args.source),
            what: &format!("source `{}`", args.source),
        },
        &std::env::current_dir().map_err(|source| CliError::Read { path: "the current directory".into(), source })?,
    )
}

/// Prints the request (`--dry-run`), or sends it and prints the answer.
fn finish(args: &SendArgs, request: &Request, found: Option<&Found>, out: &mut dyn Write) -> Result<(), CliError> {
    if args.dry_run {
        return print_request(request, args.json, out);
    }
    let (status, body) = transmit(request, &args.url)?;
    print_response(request, status, &body, args.json, out)?;
    if (200..300).contains(&status.as_u16()) {
        Ok(())
    } else {
        out.flush()?;
        let hint = found.map_or_else(String::new, |found| hint(status.as_u16(), args, found));
        Err(CliError::Rejected { status: status_line(status), hint })
    }
}

/// A delivery signed as a `"scheme": "hmac"` source with `profile` (a preset's name or a
/// profile's JSON) verifies it: core's [`HmacProfile`] signs, as the server checks.
fn build_hmac(args: &SendArgs, profile: &str, url: String, now: UnixTime) -> Result<Request, CliError> {
    let bad = |reason: String| CliError::BadProfile { given: hookfeed_core::refusal::quote(profile), reason };
    let value = serde_json::from_str::<Value>(profile).unwrap_or_else(|_| Value::String(profile.to_owned()));
    let profile = HmacProfile::from_json(&value).map_err(|e| bad(e.to_string()))?;
    let found = source_secret(args)?;
    let secrets = split_secrets(&found.value)
        .map(|text| profile.parse_secret(text))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("the secret from {} is unusable: {e}", found.origin)))?;
    if !args.set.is_empty() {
        return Err(CliError::SetWithBody);
    }
    let mut body = outgoing::read_body(args.body.as_deref())?;
    let event_id = args.id.clone().unwrap_or_else(clock::fresh_event_id);
    let event_type = args.event.clone().unwrap_or_else(|| "test".to_owned());
    let signed_at = if args.stale { UnixTime(now.as_millis() - STALE_SIGNATURE_SECS * 1000) } else { now };
    let input = SigningInput { body: &body, timestamp: signed_at, event_id: &event_id, event_type: &event_type };
    let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
    headers.extend(profile.sign_with_url(&input, &url, &secrets));
    if args.tamper {
        outgoing::tamper(&mut body);
    }
    Ok(Request { url, headers, body, event_id, stamped: None })
}

/// `{base}/hooks/{source}`, for http:// and https:// URLs.
fn hooks_url(base: &str, source: &str) -> Result<String, CliError> {
    let base = base.trim();
    let lower = base.to_ascii_lowercase();
    if !lower.starts_with("http://") && !lower.starts_with("https://") {
        return Err(CliError::UnsupportedUrl(base.to_owned()));
    }
    Ok(format!("{}/hooks/{source}", base.trim_end_matches('/')))
}

/// Builds the signed delivery: body, id and type, timestamps, signature, tampering.
fn build(
    args: &SendArgs,
    scheme: BuiltinScheme,
    url: String,
    found: &Found,
    now: UnixTime,
) -> Result<Request, CliError> {
    let secrets = secrets::parse_for_scheme(found, scheme)?;
    let back = |secs: i64| UnixTime(now.as_millis().saturating_sub(secs.saturating_mul(1000)));
    let (signed_at, created) = match (args.stale, scheme.window_on_body_created()) {
        (false, _) => (now, now),
        // Percify signs no timestamp: only an old `created` makes a delivery stale.
        (true, true) => (now, back(STALE_PERCIFY_CREATED_SECS)),
        (true, false) => (back(STALE_SIGNATURE_SECS), back(STALE_SIGNATURE_SECS)),
    };

    let (mut body, event_id, event_type, stamped) = match &args.body {
        Some(path) => {
            if !args.set.is_empty() {
                return Err(CliError::SetWithBody);
            }
            if args.stale && scheme.window_on_body_created() {
                return Err(CliError::StaleWithPercifyBody);
            }
            let body = outgoing::read_body(Some(path))?;
            let event_id = args
                .id
                .clone()
                .or_else(|| outgoing::body_event_id(scheme, &body))
                .unwrap_or_else(clock::fresh_event_id);
            let event_type = args
                .event
                .clone()
                .or_else(|| outgoing::body_event_type(scheme, &body))
                .unwrap_or_else(|| "test".to_owned());
            (body, event_id, event_type, None)
        }
        None => {
            let event_type =
                args.event.as_deref().ok_or_else(|| CliError::EventRequired { scheme, known: known_types(scheme) })?;
            let sample = sample(scheme, event_type).ok_or_else(|| CliError::UnknownEvent {
                event: event_type.to_owned(),
                scheme,
                known: known_types(scheme),
            })?;
            // A resend of an id sends the body first sent under it (`sent.rs`); `--stale`
            // always means a new, old body.
            let created = match (&args.id, args.stale) {
                (Some(id), false) => match sent::created(&url, id) {
                    // A scheme whose window runs on the body's time (Percify) refuses the
                    // first send's body once the window has passed, as it would the
                    // provider's own retry: say so rather than send it to be refused.
                    Some(first) if scheme.window_on_body_created() => {
                        let window_secs = scheme.implementation().default_tolerance_secs();
                        let age_secs = now.secs_since(first);
                        if age_secs > i64::try_from(window_secs).unwrap_or(i64::MAX) {
                            return Err(CliError::ResendOutsideWindow {
                                event_id: id.clone(),
                                scheme,
                                age_hours: age_secs / 3600,
                                window_hours: window_secs / 3600,
                            });
                        }
                        first
                    }
                    Some(first) => first,
                    None => created,
                },
                _ => created,
            };
            let event_id = args.id.clone().unwrap_or_else(clock::fresh_event_id);
            let body = sample.render(&event_id, created, &args.set)?;
            (body, event_id, event_type.to_owned(), (!args.stale).then_some(created))
        }
    };

    let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
    headers.extend(outgoing::sign(scheme, &body, signed_at, &event_id, &event_type, &secrets));
    if args.tamper {
        outgoing::tamper(&mut body);
    }
    Ok(Request { url, headers, body, event_id, stamped })
}

/// `--dry-run`: the request as text (request line, headers, blank line, body), or as one
/// JSON line with `--json`.
fn print_request(request: &Request, json: bool, out: &mut dyn Write) -> Result<(), CliError> {
    if json {
        let line = json!({
            "method": "POST",
            "url": request.url,
            "headers": request.headers,
            "body": String::from_utf8_lossy(&request.body),
            "event_id": request.event_id,
        });
        writeln!(out, "{line}")?;
        return Ok(());
    }
    writeln!(out, "POST {}", request.url)?;
    for (name, value) in &request.headers {
        writeln!(out, "{name}: {value}")?;
    }
    writeln!(out)?;
    out.write_all(&request.body)?;
    writeln!(out)?;
    Ok(())
}

/// POSTs the delivery; any answer is a result, only failing to get one is an error.
fn transmit(request: &Request, base_url: &str) -> Result<(ureq::http::StatusCode, Vec<u8>), CliError> {
    let agent = http::agent(TIMEOUT)?;
    let mut call = agent.post(&request.url).header("User-Agent", concat!("hookfeed-cli/", env!("CARGO_PKG_VERSION")));
    for (name, value) in &request.headers {
        call = call.header(name, value);
    }
    let failed = |error: ureq::Error| match error {
        ureq::Error::Io(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            CliError::Unreachable { url: base_url.trim_end_matches('/').to_owned() }
        }
        ureq::Error::ConnectionFailed => CliError::Unreachable { url: base_url.trim_end_matches('/').to_owned() },
        other => CliError::Http { url: request.url.clone(), reason: other.to_string() },
    };
    let response = call.send(&request.body[..]).map_err(failed)?;
    let status = response.status();
    let body = response.into_body().read_to_vec().map_err(failed)?;
    Ok((status, body))
}

/// Prints the answer: `401 Unauthorized` and the body, or one JSON line with `--json`.
fn print_response(
    request: &Request,
    status: ureq::http::StatusCode,
    body: &[u8],
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    if json {
        let body = serde_json::from_slice::<Value>(body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
        let line = json!({ "status": status.as_u16(), "body": body, "event_id": request.event_id });
        writeln!(out, "{line}")?;
        return Ok(());
    }
    writeln!(out, "{}", status_line(status))?;
    if !body.is_empty() {
        out.write_all(body)?;
        if !body.ends_with(b"\n") {
            writeln!(out)?;
        }
    }
    Ok(())
}

fn status_line(status: ureq::http::StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// What a refusal most likely means, and what to do.
fn hint(status: u16, args: &SendArgs, found: &Found) -> String {
    match status {
        401 if args.tamper || args.stale => ": refused as expected (--tamper / --stale)".to_owned(),
        401 => format!(
            ": the signature was refused; the secret from {} must equal the server's {}",
            found.origin,
            secret_var(&args.source)
        ),
        404 => format!(": the server has no source `{}` (see HOOKFEED_SOURCES in wrangler.toml)", args.source),
        400 => ": the signature passed but the body is not a valid event".to_owned(),
        413 => ": the body is over the source's size cap".to_owned(),
        429 => ": rate limited; wait for the Retry-After delay".to_owned(),
        s if s >= 500 => ": the server failed; a provider would retry later".to_owned(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_urls_join_with_or_without_a_trailing_slash() {
        assert_eq!(
            hooks_url("http://127.0.0.1:8787", "twin-actor").expect("url"),
            "http://127.0.0.1:8787/hooks/twin-actor"
        );
        assert_eq!(hooks_url("http://127.0.0.1:8787/", "percify").expect("url"), "http://127.0.0.1:8787/hooks/percify");
        assert_eq!(
            hooks_url("https://edge.example.com/", "x").ok().as_deref(),
            Some("https://edge.example.com/hooks/x")
        );
        assert!(matches!(hooks_url("ftp://edge.example.com", "x"), Err(CliError::UnsupportedUrl(_))));
    }
}
