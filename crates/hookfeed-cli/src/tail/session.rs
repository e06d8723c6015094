//! One tail run's connections: connect, send the listens, read frames until the
//! connection drops, then reconnect with backoff and resume each listen from the last seq
//! seen; stop on Ctrl-C, `--max-events`, `--timeout` or a refusal.

use std::io::{self, Write};
use std::thread;
use std::time::{Duration, Instant};

use hookfeed_core::ledger::ChangeKind;
use hookfeed_core::protocol::{ClientMessage, ErrorCode, ListenRequest, ServerMessage};
use tungstenite::Message;

use crate::cli::TailArgs;
use crate::clock;
use crate::error::CliError;
use crate::socket::{self, ConnectError, FeedUrl, Socket};
use hookfeed_wire::backoff::Backoff;

use super::auth::Token;
use super::render::{self, shorten, SUMMARY_CHARS};

/// Send a `ping` after this long without traffic; the feed answers `pong` without waking.
const PING_EVERY: Duration = Duration::from_secs(30);

/// One listen and where it is.
pub(super) struct Listening {
    /// The request as sent next time: `since` follows the last seq seen.
    pub(super) request: ListenRequest,
    /// How its target reads in output.
    pub(super) label: String,
    /// Refused by the feed: not sent again.
    pub(super) failed: bool,
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

/// A tail run: its listens, what it has seen, and where it prints.
pub(super) struct Tail<'a> {
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

impl<'a> Tail<'a> {
    /// A run of `listens` printing to `out` (times in the zone `offset` seconds from UTC),
    /// until `deadline` if there is one.
    pub(super) fn new(
        args: &'a TailArgs,
        out: &'a mut dyn Write,
        offset: i64,
        listens: Vec<Listening>,
        deadline: Option<Instant>,
    ) -> Self {
        Self { args, out, offset, listens, events: 0, deadline, healthy: false }
    }

    /// Connects, listens, prints; reconnects with backoff until told to stop.
    pub(super) fn follow(mut self, feed: &FeedUrl, token: &Token) -> Result<(), CliError> {
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
                if since.is_some() {
                    // A resume: what changed while away.
                    self.events += (docs.len() + removed.len()) as u64;
                    if !self.args.json {
                        render::resume(&mut *self.out, self.offset, &docs, &removed)?;
                    }
                } else if !self.args.json {
                    render::snapshot(&mut *self.out, &listen.label, &listen.request.target, &docs)?;
                }
                self.after_events()
            }
            ServerMessage::Change { id, seq, path, kind, data } => {
                if let Some(listen) = self.listens.iter_mut().find(|l| l.request.id == id) {
                    listen.request.since = Some(listen.request.since.map_or(seq, |s| s.max(seq)));
                }
                self.events += 1;
                if !self.args.json {
                    render::change_line(
                        &mut *self.out,
                        self.offset,
                        ChangeKind::as_str(kind),
                        path.as_str(),
                        data.as_ref(),
                    )?;
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
