//! `hookfeed tail`: subscribe to a feed over WebSocket and print its changes as they
//! happen, reconnecting and resuming (`since`) when the connection drops.
//!
//! Frames are built and read with core's protocol types, so the wire format is core's.

use std::io::{self, Write};
use std::thread;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hookfeed_core::ledger::ChangeKind;
use hookfeed_core::path::DocPath;
use hookfeed_core::projection::builtin_rules;
use hookfeed_core::protocol::{ClientMessage, CollectionQuery, ErrorCode, ListenRequest, ServerMessage, Target};
use hookfeed_core::query::Filter;
use hookfeed_core::source::DEFAULT_TENANT;
use hookfeed_core::token::{mint_token, TokenClaims};
use hookfeed_core::{Scheme, Secret};
use serde_json::{Map, Value};
use tungstenite::Message;

use crate::cli::TailArgs;
use crate::clock;
use crate::error::CliError;
use crate::http;
use crate::socket::{self, ConnectError, FeedUrl, Socket};
use crate::token::signing_secret;
use hookfeed_wire::backoff::Backoff;

/// Send a `ping` after this long without traffic; the feed answers `pong` without waking.
const PING_EVERY: Duration = Duration::from_secs(30);
/// How long a minted token lives (a new one is minted for every connection).
const TOKEN_TTL_SECS: i64 = 60 * 60;
/// How much of a change's other fields a change line shows.
const SUMMARY_CHARS: usize = 100;

/// Runs `hookfeed tail` until Ctrl-C, `--max-events`, `--timeout` or a refusal.
pub fn run(args: &TailArgs, out: &mut dyn Write) -> Result<(), CliError> {
    // Read before any thread exists: on Unix the zone is read safely only then.
    let offset = clock::local_offset_secs();
    let feed = socket::feed_url(&args.url)?;
    let given = args.token.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let (targets, everything) = targets(args, given);
    let token = match given {
        Some(token) => Token::Given(token.to_owned()),
        None => {
            let (secret, origin) =
                signing_secret(args.secret.as_deref(), "minting a token for tail (or pass --token)")?;
            let scopes = if everything { vec!["*".to_owned()] } else { targets.iter().map(scope_of).collect() };
            let (tenant, chosen) = match &args.tenant {
                Some(tenant) => (tenant.clone(), ""),
                None => tenant_to_mint(http::tenants(&feed.healthz_url()))?,
            };
            eprintln!(
                "minting a 1 h token for tenant `{tenant}`{chosen}, scopes {} (signed with {origin})",
                scopes.join(" ")
            );
            Token::Minted { secret, tenant, scopes }
        }
    };
    let listens = targets
        .into_iter()
        .zip(1..)
        .map(|(target, id)| Listening {
            label: label(&target),
            request: ListenRequest { id, target, since: args.since },
            failed: false,
        })
        .collect::<Vec<_>>();
    if everything {
        let names: Vec<&str> = listens.iter().map(|l| l.label.as_str()).collect();
        eprintln!("no --doc or --collection: watching {} (narrow with --doc or --collection)", names.join(", "));
    }
    socket::catch_ctrl_c();
    let deadline = args.timeout.map(|secs| Instant::now() + Duration::from_secs_f64(secs));
    Tail { args, out, offset, listens, events: 0, deadline, healthy: false }.follow(&feed, &token)
}

/// The tenant to mint a token for when `--tenant` is not given, from the tenants the
/// server says it feeds: its only one; `default` if it feeds that or cannot say; else
/// the user must choose. The second value says how it was chosen, for the log line.
fn tenant_to_mint(served: Option<Vec<String>>) -> Result<(String, &'static str), CliError> {
    match served {
        Some(mut served) if served.len() == 1 => Ok((served.remove(0), " (the only one the server feeds)")),
        Some(served) if !served.is_empty() && !served.iter().any(|t| t == DEFAULT_TENANT) => {
            Err(CliError::TenantRequired(served))
        }
        _ => Ok((DEFAULT_TENANT.to_owned(), "")),
    }
}

/// What to watch, and whether that is "everything" (nothing was named).
fn targets(args: &TailArgs, token: Option<&str>) -> (Vec<Target>, bool) {
    let named: Vec<Target> = args
        .docs
        .iter()
        .cloned()
        .map(Target::Document)
        .chain(args.collections.iter().map(|collection| {
            Target::Collection(CollectionQuery {
                collection: collection.clone(),
                filters: args.filters.clone(),
                order_by: Vec::new(),
                limit: None,
            })
        }))
        .collect();
    if !named.is_empty() {
        return (named, false);
    }
    // A given token: what it grants (its claims are readable without the secret; the
    // server checks them). A token that grants `*`, or a minted one: every built-in collection.
    let granted = token.and_then(unverified_scopes).filter(|scopes| !scopes.iter().any(|s| s == "*"));
    let targets = match granted {
        Some(scopes) => scopes
            .iter()
            .filter_map(|scope| match scope.strip_suffix("/*") {
                Some(collection) => Some(collection_target(collection)),
                None => scope.parse::<DocPath>().ok().map(Target::Document),
            })
            .collect(),
        None => builtin_collections().iter().map(|c| collection_target(c)).collect(),
    };
    (targets, true)
}

fn collection_target(collection: &str) -> Target {
    Target::Collection(CollectionQuery {
        collection: collection.to_owned(),
        filters: Vec::new(),
        order_by: Vec::new(),
        limit: None,
    })
}

/// Every collection a built-in projection rule writes, in rule order, Twin.Actor's
/// (`projects` first, the demo's) before the others'.
fn builtin_collections() -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for rule in [Scheme::TwinActor].into_iter().chain(Scheme::ALL).flat_map(builtin_rules) {
        if !names.contains(&rule.collection) {
            names.push(rule.collection);
        }
    }
    names
}

/// A token's scopes, read without checking its signature.
fn unverified_scopes(token: &str) -> Option<Vec<String>> {
    let (_, claims, _) = hookfeed_wire::token::parts(token)?;
    let json = URL_SAFE_NO_PAD.decode(claims).ok()?;
    serde_json::from_slice::<TokenClaims>(&json).ok().map(|claims| claims.scopes)
}

/// The token scope that grants a target.
fn scope_of(target: &Target) -> String {
    match target {
        Target::Document(path) => path.to_string(),
        Target::Collection(q) => format!("{}/*", q.collection),
    }
}

/// How a target reads in output: `projects/42`, `projects`, `projects where status==processing`.
fn label(target: &Target) -> String {
    match target {
        Target::Document(path) => path.to_string(),
        Target::Collection(q) if q.filters.is_empty() => q.collection.clone(),
        Target::Collection(q) => {
            let filters: Vec<String> = q.filters.iter().map(describe_filter).collect();
            format!("{} where {}", q.collection, filters.join(" and "))
        }
    }
}

fn describe_filter(filter: &Filter) -> String {
    let op = serde_json::to_value(filter.op).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let value = show(&filter.value);
    if op.starts_with(|c: char| c.is_ascii_alphabetic()) {
        format!("{} {op} {value}", filter.field)
    } else {
        format!("{}{op}{value}", filter.field)
    }
}

/// The token for each connection.
enum Token {
    /// `--token` / `$HOOKFEED_TOKEN`, used as is.
    Given(String),
    /// Minted from TOKEN_SECRET, anew for every connection so a long tail outlives its ttl.
    Minted {
        /// The signing secret.
        secret: Secret,
        /// The tenant.
        tenant: String,
        /// The scopes.
        scopes: Vec<String>,
    },
}

impl Token {
    fn for_connection(&self) -> Result<String, CliError> {
        match self {
            Self::Given(token) => Ok(token.clone()),
            Self::Minted { secret, tenant, scopes } => {
                let exp = clock::now()?.as_secs().saturating_add(TOKEN_TTL_SECS);
                Ok(mint_token(&TokenClaims { tenant: tenant.clone(), scopes: scopes.clone(), exp }, secret))
            }
        }
    }

    fn minted(&self) -> bool {
        matches!(self, Self::Minted { .. })
    }
}

/// One listen and where it is.
struct Listening {
    /// The request as sent next time: `since` follows the last seq seen.
    request: ListenRequest,
    /// How its target reads in output.
    label: String,
    /// Refused by the feed: not sent again.
    failed: bool,
}

/// Why a connection ended.
enum End {
    /// Done: Ctrl-C, `--max-events` or `--timeout` without `--max-events`.
    Stop,
    /// The connection dropped, or the feed asked to come back later: reconnect.
    Dropped(String),
}

/// What a frame asks for.
enum Next {
    Continue,
    Stop,
    Reconnect(String),
}

struct Tail<'a> {
    args: &'a TailArgs,
    out: &'a mut dyn Write,
    /// The local zone's offset from UTC, in seconds.
    offset: i64,
    listens: Vec<Listening>,
    /// Changes seen, for `--max-events`.
    events: u64,
    deadline: Option<Instant>,
    /// The current connection delivered a frame: the next drop starts the backoff over.
    healthy: bool,
}

impl Tail<'_> {
    /// Connects, listens, prints; reconnects with backoff until told to stop.
    fn follow(mut self, feed: &FeedUrl, token: &Token) -> Result<(), CliError> {
        let mut backoff = Backoff::default();
        let mut connected_before = false;
        loop {
            if socket::interrupted() {
                return Ok(());
            }
            if self.past_deadline() {
                return self.timed_out();
            }
            let why = match socket::connect(feed, &token.for_connection()?) {
                Ok(mut ws) => {
                    if connected_before {
                        eprintln!("reconnected to {}", feed.url);
                    } else {
                        eprintln!("listening on {} (Ctrl-C to stop)", feed.url);
                    }
                    connected_before = true;
                    let end = self.session(&mut ws);
                    let _ = ws.close(None);
                    let _ = ws.flush();
                    match end? {
                        End::Stop => return self.stopped(),
                        End::Dropped(reason) => format!("connection lost ({reason})"),
                    }
                }
                Err(ConnectError::Interrupted) => return Ok(()),
                Err(ConnectError::Unreachable(_)) if !connected_before => {
                    return Err(CliError::Unreachable { url: self.args.url.trim().trim_end_matches('/').to_owned() });
                }
                Err(ConnectError::Failed(reason)) if !connected_before => {
                    return Err(CliError::FeedConnect { url: feed.url.clone(), reason })
                }
                Err(ConnectError::Refused { status, status_line, message })
                    if !connected_before || !(status == 408 || status == 429 || status >= 500) =>
                {
                    return Err(CliError::FeedRefused {
                        hint: refusal_hint(status, token.minted(), &feed.url, &message),
                        status: status_line,
                        message,
                    });
                }
                Err(ConnectError::Unreachable(reason) | ConnectError::Failed(reason)) => {
                    format!("could not reconnect ({reason})")
                }
                Err(ConnectError::Refused { status_line, message, .. }) => {
                    format!("could not reconnect ({status_line}: {message})")
                }
            };
            // A connection that worked starts the backoff over; failed attempts keep doubling it.
            if std::mem::take(&mut self.healthy) {
                backoff = Backoff::default();
            }
            // The browser module's delays (hookfeed-wire), so both treat the edge alike.
            let delay = Duration::from_secs_f64(backoff.next_delay_ms(clock::jitter()) / 1000.0);
            eprintln!("{why}; reconnecting in {:.1} s…", delay.as_secs_f64());
            let until = Instant::now() + delay;
            while Instant::now() < until {
                if socket::interrupted() {
                    return Ok(());
                }
                if self.past_deadline() {
                    return self.timed_out();
                }
                thread::sleep(socket::POLL.min(until.saturating_duration_since(Instant::now())));
            }
        }
    }

    /// One connection: send the listens, then print frames until it ends.
    fn session(&mut self, ws: &mut Socket) -> Result<End, CliError> {
        for listen in self.listens.iter().filter(|l| !l.failed) {
            // Serialising core's message cannot fail: every map key is a string.
            let frame = serde_json::to_string(&ClientMessage::Listen(listen.request.clone())).unwrap_or_default();
            if let Err(e) = ws.send(Message::text(frame)) {
                return Ok(End::Dropped(e.to_string()));
            }
        }
        let mut last_traffic = Instant::now();
        loop {
            if socket::interrupted() {
                return Ok(End::Stop);
            }
            if self.past_deadline() {
                return Ok(End::Stop);
            }
            if last_traffic.elapsed() >= PING_EVERY {
                if let Err(e) = ws.send(Message::text("ping")) {
                    return Ok(End::Dropped(e.to_string()));
                }
                last_traffic = Instant::now();
            }
            match ws.read() {
                Ok(Message::Text(text)) => {
                    last_traffic = Instant::now();
                    match self.frame(text.as_str())? {
                        Next::Continue => {}
                        Next::Stop => return Ok(End::Stop),
                        Next::Reconnect(reason) => return Ok(End::Dropped(reason)),
                    }
                }
                Ok(Message::Close(frame)) => {
                    return Ok(End::Dropped(match frame {
                        Some(f) if !f.reason.is_empty() => {
                            format!("the server closed it: {} {}", u16::from(f.code), f.reason)
                        }
                        Some(f) => format!("the server closed it: {}", u16::from(f.code)),
                        None => "the server closed it".to_owned(),
                    }));
                }
                Ok(_) => last_traffic = Instant::now(),
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    return Ok(End::Dropped("the server closed it".to_owned()));
                }
                Err(e) => return Ok(End::Dropped(e.to_string())),
            }
        }
    }

    /// Handles one text frame from the feed.
    fn frame(&mut self, text: &str) -> Result<Next, CliError> {
        if text.trim() == "pong" {
            return Ok(Next::Continue);
        }
        let message = match serde_json::from_str::<ServerMessage>(text) {
            Ok(message) => message,
            Err(e) => {
                eprintln!("ignoring a frame hookfeed does not understand ({e}): {}", shorten(text, SUMMARY_CHARS));
                return Ok(Next::Continue);
            }
        };
        self.healthy = true;
        if self.args.json {
            writeln!(self.out, "{}", text.trim_end())?;
        }
        let next = match message {
            ServerMessage::Snapshot { id, seq, docs, since, removed } => {
                let Some(listen) = self.listens.iter_mut().find(|l| l.request.id == id) else {
                    return Ok(Next::Continue);
                };
                listen.request.since = Some(listen.request.since.map_or(seq, |s| s.max(seq)));
                let label = listen.label.clone();
                let is_doc = matches!(listen.request.target, Target::Document(_));
                let filtered = matches!(&listen.request.target, Target::Collection(q) if !q.filters.is_empty());
                if since.is_some() {
                    // A resume: what changed while away.
                    self.events += (docs.len() + removed.len()) as u64;
                    if !self.args.json {
                        for doc in &docs {
                            self.change_line("changed", doc.path.as_str(), Some(&doc.data))?;
                        }
                        for path in &removed {
                            self.change_line(ChangeKind::Removed.as_str(), path.as_str(), None)?;
                        }
                    }
                } else if !self.args.json {
                    for doc in &docs {
                        writeln!(self.out, "snapshot {} {}", doc.path, Value::Object(doc.data.clone()))?;
                    }
                    if docs.is_empty() {
                        let empty = match (is_doc, filtered) {
                            (true, _) => "(does not exist yet)",
                            (false, false) => "(no documents yet)",
                            (false, true) => "(no matching documents yet)",
                        };
                        writeln!(self.out, "snapshot {label}: {empty}")?;
                    }
                }
                self.after_events()
            }
            ServerMessage::Change { id, seq, path, kind, data } => {
                if let Some(listen) = self.listens.iter_mut().find(|l| l.request.id == id) {
                    listen.request.since = Some(listen.request.since.map_or(seq, |s| s.max(seq)));
                }
                self.events += 1;
                if !self.args.json {
                    self.change_line(ChangeKind::as_str(kind), path.as_str(), data.as_ref())?;
                }
                self.after_events()
            }
            ServerMessage::Error { id, code, message } => {
                let code_name = ErrorCode::as_str(code);
                if !self.args.json {
                    eprintln!("error {code_name}: {message}");
                }
                if code == ErrorCode::Unavailable {
                    Next::Reconnect(format!("the feed is unavailable: {message}"))
                } else if let Some(id) = id {
                    if let Some(listen) = self.listens.iter_mut().find(|l| l.request.id == id) {
                        listen.failed = true;
                    }
                    if self.listens.iter().all(|l| l.failed) {
                        self.out.flush()?;
                        return Err(CliError::ListensRefused {
                            hint: listen_hint(code),
                            code: code_name.to_owned(),
                            message,
                        });
                    }
                    Next::Continue
                } else if matches!(
                    code,
                    ErrorCode::Unauthenticated | ErrorCode::PermissionDenied | ErrorCode::InvalidArgument
                ) {
                    self.out.flush()?;
                    return Err(CliError::FeedError { hint: listen_hint(code), code: code_name.to_owned(), message });
                } else {
                    Next::Reconnect(format!("{code_name}: {message}"))
                }
            }
        };
        self.out.flush()?;
        Ok(next)
    }

    /// `12:04:05 modified projects/42 status=completed progress=100 …`
    fn change_line(&mut self, kind: &str, path: &str, data: Option<&Map<String, Value>>) -> Result<(), CliError> {
        let at = clock::time_of_day(clock::now()?, self.offset);
        match data.map(summarize).filter(|s| !s.is_empty()) {
            Some(summary) => writeln!(self.out, "{at} {kind} {path} {summary}")?,
            None => writeln!(self.out, "{at} {kind} {path}")?,
        }
        Ok(())
    }

    fn after_events(&self) -> Next {
        match self.args.max_events {
            Some(max) if self.events >= max => Next::Stop,
            _ => Next::Continue,
        }
    }

    fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// `--timeout` passed: a failure when `--max-events` changes were expected.
    fn timed_out(&mut self) -> Result<(), CliError> {
        self.out.flush()?;
        match self.args.max_events {
            Some(wanted) if self.events < wanted => Err(CliError::TailTimedOut {
                secs: format!("{}", self.args.timeout.unwrap_or_default()),
                seen: self.events,
                wanted,
            }),
            _ => {
                eprintln!("stopped: --timeout passed");
                Ok(())
            }
        }
    }

    /// The loop ended on purpose: Ctrl-C, `--max-events`, or `--timeout`.
    fn stopped(&mut self) -> Result<(), CliError> {
        if self.past_deadline() && !socket::interrupted() {
            return self.timed_out();
        }
        self.out.flush()?;
        Ok(())
    }
}

/// What to do about a refused listen or connection.
fn listen_hint(code: ErrorCode) -> String {
    match code {
        ErrorCode::PermissionDenied => ": the token does not grant what tail watches; drop --token to mint one from \
TOKEN_SECRET, or mint a wider one (hookfeed token --scope 'projects/*')"
            .to_owned(),
        ErrorCode::Unauthenticated => ": mint a fresh token (hookfeed token), or drop --token to let tail mint one \
from TOKEN_SECRET"
            .to_owned(),
        ErrorCode::InvalidArgument => ": check --doc, --collection and --where".to_owned(),
        _ => String::new(),
    }
}

/// What to do about a refused upgrade.
fn refusal_hint(status: u16, minted: bool, url: &str, message: &str) -> String {
    match status {
        // hookfeed's own 404 (a tenant no source feeds) names the tenants itself.
        404 if message.starts_with("not_found: ") => String::new(),
        401 | 403 if minted => "; the minted token was refused: TOKEN_SECRET here must equal the server's \
(--secret, $TOKEN_SECRET, .dev.vars), and --tenant must be one the server serves"
            .to_owned(),
        401 | 403 => "; pass a valid --token (hookfeed token), or drop it to mint one from TOKEN_SECRET".to_owned(),
        404 => format!(
            "; either {url} is not a hookfeed feed, or the server feeds no such tenant (its /healthz lists them; \
pass --tenant)"
        ),
        426 => format!("; {url} did not take the WebSocket upgrade: is --url a hookfeed server?"),
        _ => String::new(),
    }
}

/// `status=completed progress=100 final_video_url=…`: status and progress first, then the
/// other fields, shortened to about [`SUMMARY_CHARS`] characters.
fn summarize(data: &Map<String, Value>) -> String {
    const FIRST: [&str; 2] = ["status", "progress"];
    let pair = |key: &str, value: &Value| format!("{key}={}", show(value));
    let head: Vec<String> = FIRST.iter().filter_map(|key| data.get(*key).map(|v| pair(key, v))).collect();
    let rest: Vec<String> =
        data.iter().filter(|(key, _)| !FIRST.contains(&key.as_str())).map(|(k, v)| pair(k, v)).collect();
    let rest = shorten(&rest.join(" "), SUMMARY_CHARS);
    let mut summary = head.join(" ");
    if !rest.is_empty() {
        if !summary.is_empty() {
            summary.push(' ');
        }
        summary.push_str(&rest);
    }
    summary
}

/// A value as it reads after `key=`: plain strings bare, everything else as compact JSON.
fn show(value: &Value) -> String {
    match value {
        Value::String(s) if !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || c == '"' || c == '=') => {
            s.clone()
        }
        other => other.to_string(),
    }
}

/// `text`, cut to `max` characters with an ellipsis.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max.saturating_sub(1)) {
        Some((at, _)) if text.chars().count() > max => format!("{}…", &text[..at]),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("object")
    }

    #[test]
    fn without_tenant_tail_mints_for_the_servers_only_tenant_or_asks() {
        let served = |names: &[&str]| Some(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>());
        assert_eq!(tenant_to_mint(served(&["demo"])).expect("one").0, "demo");
        assert_eq!(tenant_to_mint(served(&["acme", "default"])).expect("default is served").0, "default");
        assert_eq!(tenant_to_mint(None).expect("cannot ask").0, "default");
        let err = tenant_to_mint(served(&["acme", "globex"])).expect_err("must choose");
        assert_eq!(err.to_string(), "the server feeds tenants `acme`, `globex`: pass --tenant with the one to watch");
    }

    #[test]
    fn summaries_lead_with_status_and_progress_and_shorten_the_rest() {
        let data = object(json!({"progress": 100, "status": "completed", "project_id": 42, "note": "two words"}));
        assert_eq!(summarize(&data), "status=completed progress=100 note=\"two words\" project_id=42");
        let long = object(json!({"status": "processing", "url": "x".repeat(300)}));
        let summary = summarize(&long);
        assert!(summary.starts_with("status=processing url=xxx"), "{summary}");
        assert_eq!(summary.chars().count(), "status=processing ".len() + SUMMARY_CHARS);
        assert!(summary.ends_with('…'));
        assert_eq!(summarize(&Map::new()), "");
    }

    #[test]
    fn labels_and_scopes_name_the_target() {
        let doc = Target::Document("projects/42".parse().expect("path"));
        assert_eq!(label(&doc), "projects/42");
        assert_eq!(scope_of(&doc), "projects/42");
        let filters = vec![
            crate::cli::parse_where("status==processing").expect("filter"),
            crate::cli::parse_where("status in a,b").expect("filter"),
        ];
        let query = Target::Collection(CollectionQuery {
            collection: "projects".into(),
            filters,
            order_by: Vec::new(),
            limit: None,
        });
        assert_eq!(label(&query), "projects where status==processing and status in [\"a\",\"b\"]");
        assert_eq!(scope_of(&query), "projects/*");
    }

    #[test]
    fn a_given_tokens_scopes_are_read_without_the_secret() {
        let claims =
            TokenClaims { tenant: "demo".into(), scopes: vec!["projects/*".into(), "users/u1".into()], exp: 1 };
        let token = mint_token(&claims, &Secret::from_bytes("whatever"));
        assert_eq!(unverified_scopes(&token), Some(claims.scopes));
        assert_eq!(unverified_scopes("nonsense"), None);
    }

    #[test]
    fn the_builtin_collections_start_with_projects() {
        let names = builtin_collections();
        assert_eq!(names.first().map(String::as_str), Some("projects"));
        assert!(names.contains(&"videos".to_owned()) && names.contains(&"users".to_owned()));
        let mut unique = names.clone();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
    }
}
