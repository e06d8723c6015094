//! The command line, as clap types: every flag, its help and its examples live here.

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use hookfeed_core::path::{check_collection, DocPath};
use hookfeed_core::query::{Filter, FilterOp};
use hookfeed_core::source::DEFAULT_TENANT;
use hookfeed_core::BuiltinScheme;
use serde_json::Value;

/// The server `npm run dev` starts.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8787";

/// `hookfeed`: test deliveries, subscriber tokens and a live tail for a hookfeed server.
#[derive(Debug, Parser)]
#[command(
    name = "hookfeed",
    version,
    about = "Sign and send test webhook deliveries, mint subscriber tokens, tail a feed",
    long_about = "Sign and send test webhook deliveries of every known event type to a hookfeed \
server, print the signature headers a provider would send, mint subscriber tokens, and tail \
a feed's changes live.\n\n\
Secrets come from --secret, the environment, or .dev.vars / .dev.vars.example in the \
current directory, the same files `npm run dev` reads.",
    after_help = "\
Examples:
  hookfeed send --source twin-actor --event project.completed --set project_id=42
  hookfeed send --source percify --event video.completed --tamper      # expect 401
  hookfeed send --source shop --hmac shopify --event orders/paid --body order.json
  hookfeed sign --scheme stripe --secret whsec_test < body.json
  hookfeed token --tenant demo --scope 'projects/*' --ttl 1h
  hookfeed tail --doc projects/42
  hookfeed events --scheme twin-actor
  hookfeed deliveries --follow"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sign a sample (or a file) and POST it to {url}/hooks/{source}.
    Send(SendArgs),
    /// Print the signature headers a provider would send for a body.
    Sign(SignArgs),
    /// Mint a subscriber token for GET /feed.
    Token(TokenArgs),
    /// Watch a feed over WebSocket and print its changes as they happen.
    // A variant's doc comment resets `long_about`, so the long text is set here.
    #[command(long_about = TAIL_LONG_ABOUT)]
    Tail(TailArgs),
    /// List the known event types of each scheme (the values of --event).
    Events(EventsArgs),
    /// List the delivery log (GET /deliveries) a page at a time, or follow it live.
    Deliveries(DeliveriesArgs),
}

/// `hookfeed deliveries`.
#[derive(Debug, Args)]
#[command(
    long_about = "List the server's delivery log, newest first: what each delivery came to \
(stored, out_of_order, duplicate, conflict, or rejected with the reason), a page at a time. \
Rejected rows are the edge's refusals, kept in memory by the Worker that refused them.\n\n\
Needs the server's ADMIN_TOKEN: --admin-token, $ADMIN_TOKEN, or .dev.vars in the current \
directory.",
    after_help = "\
Examples:
  hookfeed deliveries                                  # the newest 20
  hookfeed deliveries --outcome rejected --limit 100
  hookfeed deliveries --event-id evt_abc123            # what became of one event
  hookfeed deliveries --before 1764489600000.e000000000042   # the page after
  hookfeed deliveries --follow                         # new rows as they arrive"
)]
pub struct DeliveriesArgs {
    /// The server.
    #[arg(long, value_name = "URL", env = "HOOKFEED_URL", hide_env_values = true, default_value = DEFAULT_URL)]
    pub url: String,

    /// The tenant whose feed to read (default: the first source's).
    #[arg(long, value_name = "TENANT")]
    pub tenant: Option<String>,

    /// Only this source's deliveries.
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,

    /// Only deliveries with this outcome.
    #[arg(long, value_name = "OUTCOME", value_parser = PossibleValuesParser::new(
        hookfeed_core::delivery_log::LogOutcome::ALL.map(|o| o.as_str())))]
    pub outcome: Option<String>,

    /// Only deliveries of this event id.
    #[arg(long, value_name = "ID")]
    pub event_id: Option<String>,

    /// Rows per page (1-1000).
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=1000).map(usize::from))]
    pub limit: usize,

    /// Start after this cursor: the `next` a previous page printed.
    #[arg(long, value_name = "CURSOR", conflicts_with = "follow")]
    pub before: Option<String>,

    /// Every page, not only the first.
    #[arg(long, conflicts_with = "follow")]
    pub all: bool,

    /// Print the newest rows, then each new one as it arrives, until Ctrl-C.
    #[arg(long, short = 'f')]
    pub follow: bool,

    /// How often --follow asks, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000, requires = "follow")]
    pub interval_ms: u64,

    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,

    /// The server's ADMIN_TOKEN.
    #[arg(long, value_name = "TOKEN", env = "ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
}

/// `hookfeed send`.
#[derive(Debug, Args)]
#[command(
    long_about = "Sign a delivery the way the source's provider would and POST it to \
{url}/hooks/{source}. The body is the built-in sample of --event with a fresh event id and \
creation time (and --set overrides, which the sample's URLs follow), or the bytes of \
--body. With --id, a second send of that id resends the first one's body.\n\n\
Prints the response's status and body. Exits 0 on a 2xx answer and 1 otherwise, so \
scripts can check the outcome.",
    after_help = "\
Examples:
  # A completed project, as Twin.Actor would send it:
  hookfeed send --source twin-actor --event project.completed --set project_id=42

  # The same event id twice: the second is a resend of the first (same body, fresh
  # signature) and the answer says \"duplicate\": true
  hookfeed send --source twin-actor --event project.created --id evt_demo_1
  hookfeed send --source twin-actor --event project.created --id evt_demo_1

  # Deliveries the server must refuse with 401:
  hookfeed send --source percify --event video.completed --tamper
  hookfeed send --source percify --event video.completed --stale

  # A source whose name is not a scheme name, with a body from a file:
  hookfeed send --source billing --scheme stripe --body event.json

  # Look before sending:
  hookfeed send --source twin-actor --event credits.low --dry-run

Secrets: --secret, else $HOOKFEED_SECRET, else SECRET_<SOURCE> (SECRET_TWIN_ACTOR for
source twin-actor) from the environment, .dev.vars, then .dev.vars.example.
Event types: `hookfeed events`."
)]
pub struct SendArgs {
    /// The source's name: the delivery goes to {url}/hooks/{source}.
    #[arg(long, value_name = "NAME")]
    pub source: String,

    /// How to sign [default: the source's name, when it is a scheme name].
    #[arg(long, value_name = "SCHEME", value_parser = scheme_parser())]
    pub scheme: Option<BuiltinScheme>,

    /// Sign as a `"scheme": "hmac"` source does: a preset's name (`shopify`, `slack`, …) or
    /// a profile as JSON (the source's `hmac` value). Needs --body (there are no samples).
    #[arg(long, value_name = "PRESET|JSON", conflicts_with = "scheme", requires = "body")]
    pub hmac: Option<String>,

    /// The event type whose sample to send (see `hookfeed events`).
    ///
    /// With --body, only the headers that carry a type use it; it defaults to the body's
    /// `type`, else `test`.
    #[arg(long, value_name = "TYPE")]
    pub event: Option<String>,

    /// Send this file's bytes instead of a sample (`-` reads stdin).
    #[arg(long, value_name = "FILE")]
    pub body: Option<PathBuf>,

    /// Override a field of the sample's `data` (repeatable; dotted paths reach into objects).
    ///
    /// The value is read as JSON when it parses (42, true, null, "42", {"a":1}), else as a
    /// string. GitHub bodies have no `data`: paths start at the body's root. The sample's
    /// URLs follow a changed id (`--set project_id=7`: `…/project_7_final.mp4`).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_override)]
    pub set: Vec<(String, Value)>,

    /// The event id [default: a fresh `evt_…`]; repeat one to see the server dedup it.
    ///
    /// Sending an id again resends that event: the sample's creation time is the one its
    /// first send to the same URL stamped (remembered in $HOOKFEED_STATE_DIR, else
    /// ~/.local/state/hookfeed), so the same --event and --set make the same body; the
    /// signature's timestamp is fresh, as a provider's retry's is.
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,

    /// Signing secret(s), comma-separated (one signature per secret, as during a rotation).
    #[arg(long, value_name = "SECRET", env = "HOOKFEED_SECRET", hide_env_values = true)]
    pub secret: Option<String>,

    /// Alter one character of the body after signing (it stays JSON): expect 401.
    #[arg(long)]
    pub tamper: bool,

    /// Sign with a timestamp 1 hour old (percify: a body `created` 48 hours old): expect 401.
    #[arg(long)]
    pub stale: bool,

    /// Print the request (method, URL, headers, body) instead of sending it.
    #[arg(long)]
    pub dry_run: bool,

    /// Print one JSON line: {"status", "body", "event_id"} (with --dry-run: the request).
    #[arg(long)]
    pub json: bool,

    /// The hookfeed server: http:// or https:// (trusting the public roots, or the
    /// certificates in $SSL_CERT_FILE).
    #[arg(long, value_name = "URL", env = "HOOKFEED_URL", hide_env_values = true, default_value = DEFAULT_URL)]
    pub url: String,
}

/// `hookfeed sign`.
#[derive(Debug, Args)]
#[command(
    long_about = "Read a body from FILE (or stdin) and print the headers its provider would \
send with it, one `Name: value` line each. The body is signed exactly as read: no trailing \
newline is added or removed.\n\n\
For twin-actor, percify and stripe bodies the event id and type default to the body's `id` \
and `type`, so the headers match the body.",
    after_help = "\
Examples:
  hookfeed sign --scheme twin-actor body.json
  hookfeed sign --scheme standard-webhooks --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw < body.json
  hookfeed sign --scheme github --event issues --id 72d3162e --timestamp 1700000000 body.json

  # Replay a body by hand (curl reads headers from a file with -H @FILE):
  hookfeed sign --scheme twin-actor body.json > headers.txt
  curl http://127.0.0.1:8787/hooks/twin-actor -H @headers.txt \\
       -H 'Content-Type: application/json' --data-binary @body.json

Secrets: --secret, else $HOOKFEED_SECRET, else SECRET_<SOURCE> (source defaults to the
scheme's name) from the environment, .dev.vars, then .dev.vars.example."
)]
pub struct SignArgs {
    /// How to sign [default: --source, when it is a scheme name].
    #[arg(long, value_name = "SCHEME", value_parser = scheme_parser())]
    pub scheme: Option<BuiltinScheme>,

    /// The source whose SECRET_<SOURCE> variable holds the secret [default: the scheme's name].
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,

    /// Signing secret(s), comma-separated (one signature per secret, as during a rotation).
    #[arg(long, value_name = "SECRET", env = "HOOKFEED_SECRET", hide_env_values = true)]
    pub secret: Option<String>,

    /// The event id for the id header [default: the body's `id`, else a fresh `evt_…`].
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,

    /// The event type for the type header [default: the body's `type`, else `test`].
    #[arg(long, value_name = "TYPE")]
    pub event: Option<String>,

    /// The signing time in Unix seconds [default: now].
    #[arg(long, value_name = "UNIX", allow_negative_numbers = true)]
    pub timestamp: Option<i64>,

    /// The body to sign; `-` or nothing reads stdin.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// `hookfeed token`.
#[derive(Debug, Args)]
#[command(
    long_about = "Mint a subscriber token for GET /feed: a JWT signed with HS256 and TOKEN_SECRET, it \
carries a tenant, the paths it may listen to and an expiry. Prints the token alone on \
stdout (a summary goes to stderr), so `TOKEN=$(hookfeed token …)` works.",
    after_help = "\
Scopes:
  projects/42      one document
  projects/*       every document of a collection
  *                everything in the tenant

Examples:
  hookfeed token --tenant demo --scope 'projects/*' --scope users/user_abc123 --ttl 1h
  hookfeed token --scope '*' --ttl 7d
  TOKEN=$(hookfeed token --scope projects/42)

Secret: --secret, else $TOKEN_SECRET, else TOKEN_SECRET from .dev.vars, then
.dev.vars.example."
)]
pub struct TokenArgs {
    /// The tenant (feed) the token is for.
    #[arg(long, value_name = "TENANT", default_value = DEFAULT_TENANT)]
    pub tenant: String,

    /// A path the token may listen to (repeatable): `projects/42`, `projects/*` or `*`.
    /// At least one --scope or --owner.
    #[arg(long, value_name = "SCOPE")]
    pub scope: Vec<String>,

    /// An owner scope (repeatable): `projects=user_id` grants the documents of `projects`
    /// whose `user_id` is --sub (queries must filter on it). Needs --sub.
    #[arg(long, value_name = "COLLECTION=FIELD")]
    pub owner: Vec<String>,

    /// Who the token is for (the JWT's `sub`): your user's id.
    #[arg(long, value_name = "USER_ID")]
    pub sub: Option<String>,

    /// How long the token lives: seconds, or a number with s, m, h or d (90s, 15m, 1h, 7d).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_ttl)]
    pub ttl: u64,

    /// The token signing secret (the server's TOKEN_SECRET).
    #[arg(long, value_name = "SECRET", env = "TOKEN_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
}

/// `hookfeed tail --help`.
const TAIL_LONG_ABOUT: &str = "Subscribe to the feed at {url}/feed over WebSocket and print its changes as they \
happen, like `tail -f`: first each target's current documents, then one line per change.\n\n\
Targets: --doc and --collection (repeatable; --where filters every --collection). With neither, \
tail watches everything it can: every collection the built-in projection rules write \
(projects, voice_clones, account, avatars, videos, audio, voices, users), or, with --token, \
what that token grants.\n\n\
Token: --token, else $HOOKFEED_TOKEN, else tail mints one from TOKEN_SECRET for --tenant \
(without it, for the tenant the server's GET /healthz lists, when it lists one), scoped to \
what it watches (`*` when watching everything), valid 1 h and minted anew for \
every reconnect.\n\n\
A dropped connection is retried with backoff (0.5 s doubling to 10 s, with jitter) and \
resumed after the last seq seen, so no change is missed or printed twice; changes made while \
away print as `changed`. Ctrl-C exits 0. Exits 1 when the server refuses the token, when \
every listen is refused, or when --timeout passes before --max-events changes.";

/// `hookfeed tail`.
#[derive(Debug, Args)]
#[command(after_help = "\
Output:
  snapshot projects/42 {\"progress\":40,\"status\":\"processing\"}
  snapshot videos: (no documents yet)
  12:04:05 modified projects/42 status=completed progress=100 final_video_url=https://…
  error permission-denied: token does not grant `users/*`      (on stderr)

Examples:
  hookfeed tail                                        # everything `npm run dev` feeds
  hookfeed tail --doc projects/42
  hookfeed tail --tenant acme --doc projects/42        # a server that feeds several tenants
  hookfeed tail --collection projects --where status==processing --where 'progress>=50'
  hookfeed tail --token \"$TOKEN\" --json | jq .         # one server frame per line
  hookfeed tail --doc projects/42 --max-events 1 --timeout 60   # wait for one change

Filters (--where): FIELD==VALUE, also != < <= > >=; FIELD in A,B; FIELD not-in A,B;
FIELD array-contains V; FIELD array-contains-any A,B. Values are JSON when they parse
(50, true, \"42\"), else strings.

Secret: --secret, else $TOKEN_SECRET, else TOKEN_SECRET from .dev.vars, then
.dev.vars.example (only needed without --token).")]
pub struct TailArgs {
    /// A document to watch (repeatable): `projects/42`.
    #[arg(long = "doc", value_name = "PATH", value_parser = parse_doc)]
    pub docs: Vec<DocPath>,

    /// A collection to watch (repeatable): `projects`.
    #[arg(long = "collection", value_name = "NAME", value_parser = parse_collection)]
    pub collections: Vec<String>,

    /// Only documents of the --collection(s) that match (repeatable; all must hold):
    /// `status==processing`, `progress>=50`, `status in failed,completed`.
    #[arg(long = "where", value_name = "FILTER", requires = "collections", value_parser = parse_where)]
    pub filters: Vec<Filter>,

    /// Start after this seq: print only what changed after it, then follow.
    #[arg(long, value_name = "SEQ")]
    pub since: Option<u64>,

    /// Print each server frame verbatim, one JSON object per line (for scripts).
    #[arg(long)]
    pub json: bool,

    /// Exit 0 after N changes (change frames, and documents in a resume snapshot).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_events: Option<u64>,

    /// Stop after this long: seconds, or a number with s, m or h (exit 1 if --max-events
    /// changes have not arrived by then, else 0).
    #[arg(long, value_name = "SECS", value_parser = parse_timeout)]
    pub timeout: Option<f64>,

    /// A subscriber token (`hookfeed token`) [default: minted from TOKEN_SECRET].
    #[arg(long, value_name = "TOKEN", env = "HOOKFEED_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// The token signing secret (the server's TOKEN_SECRET), to mint a token without --token.
    #[arg(long, value_name = "SECRET", env = "TOKEN_SECRET", hide_env_values = true)]
    pub secret: Option<String>,

    /// The tenant (feed) a minted token is for [default: the one the server feeds, as its
    /// /healthz lists them; `default` if it cannot say].
    #[arg(long, value_name = "TENANT")]
    pub tenant: Option<String>,

    /// The hookfeed server (http://, https://, ws:// or wss://); tail connects to
    /// ws://HOST/feed, or wss:// for https:// (trusting the public roots, or the
    /// certificates in $SSL_CERT_FILE).
    #[arg(long, value_name = "URL", env = "HOOKFEED_URL", hide_env_values = true, default_value = DEFAULT_URL)]
    pub url: String,
}

/// `hookfeed events`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  hookfeed events                       # every scheme, grouped
  hookfeed events --scheme twin-actor   # one type per line, for scripts")]
pub struct EventsArgs {
    /// Only this scheme's types, one per line [default: every scheme, grouped].
    #[arg(long, value_name = "SCHEME", value_parser = scheme_parser())]
    pub scheme: Option<BuiltinScheme>,
}

/// Accepts exactly the scheme names, and lists them in help and errors.
fn scheme_parser() -> impl TypedValueParser<Value = BuiltinScheme> {
    PossibleValuesParser::new(BuiltinScheme::ALL.map(BuiltinScheme::name)).try_map(|name| name.parse::<BuiltinScheme>())
}

/// Parses `--set KEY=VALUE`: the value as JSON when it parses, else as a string.
pub fn parse_override(text: &str) -> Result<(String, Value), String> {
    let (key, raw) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not KEY=VALUE: write e.g. --set project_id=42 or --set meta.note=hello"))?;
    let key = key.trim();
    if key.is_empty() || key.split('.').any(str::is_empty) {
        return Err(format!("`{key}` is not a field path: use names joined by dots, e.g. project_id or meta.note"));
    }
    let value = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()));
    Ok((key.to_owned(), value))
}

/// Parses `--doc`: a document path `collection/id`.
pub fn parse_doc(text: &str) -> Result<DocPath, String> {
    text.trim().parse().map_err(|e| format!("{e}, e.g. --doc projects/42 (for a whole collection, use --collection)"))
}

/// Parses `--collection`: a collection name.
pub fn parse_collection(text: &str) -> Result<String, String> {
    let name = text.trim().trim_end_matches("/*");
    check_collection(name).map_err(|e| format!("{e}, e.g. --collection projects (for one document, use --doc)"))?;
    Ok(name.to_owned())
}

/// Parses `--where`: `FIELD==VALUE` (also `!=`, `<`, `<=`, `>`, `>=`, and `=` for `==`), or
/// `FIELD in A,B`, `not-in`, `array-contains`, `array-contains-any` with spaces around the
/// operator. Values are JSON when they parse, else strings; list operators split on commas
/// unless the value is a JSON array.
pub fn parse_where(text: &str) -> Result<Filter, String> {
    let invalid = || {
        format!(
            "`{text}` is not a filter: write FIELD==VALUE (or != < <= > >=), or FIELD in A,B (also not-in, \
array-contains, array-contains-any), e.g. --where status==processing"
        )
    };
    let words = [
        (" not-in ", FilterOp::NotIn),
        (" array-contains-any ", FilterOp::ArrayContainsAny),
        (" array-contains ", FilterOp::ArrayContains),
        (" in ", FilterOp::In),
    ];
    let (field, op, raw) = match words.into_iter().find_map(|(word, op)| text.split_once(word).map(|(f, v)| (f, op, v)))
    {
        Some(found) => found,
        None => {
            let at = text.find(['=', '!', '<', '>']).ok_or_else(invalid)?;
            let (field, rest) = text.split_at(at);
            let (op, len) = [("==", FilterOp::Eq), ("!=", FilterOp::Ne), ("<=", FilterOp::Le), (">=", FilterOp::Ge)]
                .into_iter()
                .chain([("<", FilterOp::Lt), (">", FilterOp::Gt), ("=", FilterOp::Eq)])
                .find(|(symbol, _)| rest.starts_with(symbol))
                .map(|(symbol, op)| (op, symbol.len()))
                .ok_or_else(invalid)?;
            (field, op, &rest[len..])
        }
    };
    let field = field.trim();
    if field.is_empty() || field.contains(char::is_whitespace) || field.split('.').any(str::is_empty) {
        return Err(invalid());
    }
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(invalid());
    }
    let scalar = |text: &str| serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()));
    let value = match op {
        FilterOp::In | FilterOp::NotIn | FilterOp::ArrayContainsAny => match serde_json::from_str(raw) {
            Ok(Value::Array(list)) => Value::Array(list),
            _ => Value::Array(raw.split(',').map(|item| scalar(item.trim())).collect()),
        },
        _ => scalar(raw),
    };
    Ok(Filter { field: field.to_owned(), op, value })
}

/// Parses `--timeout`: seconds (fractions allowed), or a number with s, m or h.
pub fn parse_timeout(text: &str) -> Result<f64, String> {
    let invalid =
        || format!("`{text}` is not a timeout: use seconds (30, 0.5) or a number with s, m or h (90s, 5m, 1h)");
    let trimmed = text.trim();
    let (number, scale) = match trimmed.char_indices().last() {
        Some((at, 's')) => (&trimmed[..at], 1.0),
        Some((at, 'm')) => (&trimmed[..at], 60.0),
        Some((at, 'h')) => (&trimmed[..at], 3600.0),
        _ => (trimmed, 1.0),
    };
    let secs = number.parse::<f64>().map_err(|_| invalid())? * scale;
    if secs.is_finite() && secs > 0.0 && secs <= 1e9 {
        Ok(secs)
    } else {
        Err(invalid())
    }
}

/// Parses a duration: `3600`, `90s`, `15m`, `1h`, `7d`, into seconds (at least 1).
pub fn parse_ttl(text: &str) -> Result<u64, String> {
    let invalid =
        || format!("`{text}` is not a duration: use seconds (3600) or a number with s, m, h or d (90s, 15m, 1h, 7d)");
    let text = text.trim();
    let (number, unit) = match text.char_indices().last() {
        Some((at, c)) if c.is_ascii_alphabetic() => (&text[..at], c.to_ascii_lowercase()),
        _ => (text, 's'),
    };
    let scale: u64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 60 * 60,
        'd' => 24 * 60 * 60,
        _ => return Err(invalid()),
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let secs = number.parse::<u64>().ok().and_then(|n| n.checked_mul(scale)).ok_or_else(invalid)?;
    // Keeps `now + ttl` far inside i64 and the token meaningful.
    const TEN_YEARS: u64 = 10 * 365 * 24 * 60 * 60;
    match secs {
        0 => Err(format!("`{text}` is zero: a token must live at least 1 s")),
        s if s > TEN_YEARS => Err(format!("`{text}` is longer than 10 years: mint shorter-lived tokens")),
        s => Ok(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn ttls_take_seconds_or_a_unit() {
        assert_eq!(parse_ttl("3600"), Ok(3600));
        assert_eq!(parse_ttl("90s"), Ok(90));
        assert_eq!(parse_ttl("15m"), Ok(900));
        assert_eq!(parse_ttl("1h"), Ok(3600));
        assert_eq!(parse_ttl("7d"), Ok(604_800));
        for bad in ["", "h", "1w", "-5", "1.5h", "0", "0s", "99999999999999999999d"] {
            assert!(parse_ttl(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn where_filters_take_symbols_glued_and_words_spaced() {
        let f = |text| parse_where(text).map(|f| (f.field, f.op, f.value));
        assert_eq!(f("status==processing"), Ok(("status".into(), FilterOp::Eq, Value::from("processing"))));
        assert_eq!(f("status=processing"), Ok(("status".into(), FilterOp::Eq, Value::from("processing"))));
        assert_eq!(f("progress >= 50"), Ok(("progress".into(), FilterOp::Ge, Value::from(50))));
        assert_eq!(f("progress<50"), Ok(("progress".into(), FilterOp::Lt, Value::from(50))));
        assert_eq!(f("error.code!=\"42\""), Ok(("error.code".into(), FilterOp::Ne, Value::from("42"))));
        assert_eq!(
            f("status in failed,completed"),
            Ok(("status".into(), FilterOp::In, serde_json::json!(["failed", "completed"])))
        );
        assert_eq!(
            f("status not-in [\"failed\"]"),
            Ok(("status".into(), FilterOp::NotIn, serde_json::json!(["failed"])))
        );
        assert_eq!(f("tags array-contains hd"), Ok(("tags".into(), FilterOp::ArrayContains, Value::from("hd"))));
        assert_eq!(
            f("tags array-contains-any hd,4k"),
            Ok(("tags".into(), FilterOp::ArrayContainsAny, serde_json::json!(["hd", "4k"])))
        );
        for bad in ["status", "==x", "status==", "a b==1", "a..b==1", "status ~ x"] {
            assert!(parse_where(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn targets_and_timeouts_are_checked_when_parsed() {
        assert_eq!(parse_doc("projects/42").map(|p| p.to_string()), Ok("projects/42".into()));
        assert!(parse_doc("projects").is_err());
        assert_eq!(parse_collection("projects"), Ok("projects".into()));
        assert_eq!(parse_collection("projects/*"), Ok("projects".into()));
        assert!(parse_collection("projects/42").is_err());
        assert_eq!(parse_timeout("30"), Ok(30.0));
        assert_eq!(parse_timeout("0.5"), Ok(0.5));
        assert_eq!(parse_timeout("2m"), Ok(120.0));
        for bad in ["", "0", "-1", "x", "1d", "NaN", "inf"] {
            assert!(parse_timeout(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn overrides_are_json_when_they_parse_else_strings() {
        assert_eq!(parse_override("project_id=42"), Ok(("project_id".into(), Value::from(42))));
        assert_eq!(parse_override("note=hello world"), Ok(("note".into(), Value::from("hello world"))));
        assert_eq!(parse_override("id=\"42\""), Ok(("id".into(), Value::from("42"))));
        assert_eq!(parse_override("url=a=b"), Ok(("url".into(), Value::from("a=b"))));
        assert_eq!(parse_override("meta.retry=true"), Ok(("meta.retry".into(), Value::from(true))));
        assert!(parse_override("no-equals").is_err());
        assert!(parse_override("=1").is_err());
        assert!(parse_override("a..b=1").is_err());
    }
}
