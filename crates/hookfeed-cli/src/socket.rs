//! `hookfeed tail`'s transport: the feed's ws:// or wss:// URL, the WebSocket upgrade
//! with the token in `Sec-WebSocket-Protocol`, and Ctrl-C.
//!
//! TLS comes from rustls (see [`crate::tls`]). Reads wake every [`POLL`] so the caller can
//! notice Ctrl-C, send pings and keep its deadlines.

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tungstenite::handshake::client::Request;
use tungstenite::http::Uri;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{ClientRequestBuilder, Connector, HandshakeError, WebSocket};

use crate::error::CliError;
use crate::tls::CustomRoots;

/// The subprotocol offered beside the token; the server answers with it.
pub use hookfeed_wire::SUBPROTOCOL;
/// How long a blocked read waits before handing control back.
pub const POLL: Duration = Duration::from_millis(200);
/// How long a TCP connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the server may take to answer the upgrade.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a write may block.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// An open feed connection.
pub type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// Where the feed is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedUrl {
    /// `ws://host:port/feed` or `wss://…`.
    pub url: String,
    /// `host:port`, to connect to.
    pub authority: String,
    /// Whether the connection is TLS (wss://).
    pub tls: bool,
}

impl FeedUrl {
    /// The server's `GET /healthz`, beside the feed: `wss://h/base/feed` → `https://h/base/healthz`.
    pub fn healthz_url(&self) -> String {
        let (scheme, rest) =
            if self.tls { ("https", &self.url["wss".len()..]) } else { ("http", &self.url["ws".len()..]) };
        format!("{scheme}{}/healthz", rest.strip_suffix("/feed").unwrap_or(rest))
    }
}

/// The feed's WebSocket URL for a server URL: `http://h:p[/base]` (or `ws://…`) becomes
/// `ws://h:p[/base]/feed`, and `https://` (or `wss://`) becomes `wss://…`; a URL already
/// ending in `/feed` is kept.
pub fn feed_url(base: &str) -> Result<FeedUrl, CliError> {
    let base = base.trim();
    let lower = base.to_ascii_lowercase();
    let (scheme, tls) = [("http://", false), ("ws://", false), ("https://", true), ("wss://", true)]
        .into_iter()
        .find(|(scheme, _)| lower.starts_with(scheme))
        .ok_or_else(|| CliError::BadFeedUrl(base.to_owned()))?;
    let rest = &base[scheme.len()..];
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = rest.find('/').map_or((rest, ""), |at| rest.split_at(at));
    if authority.is_empty() || authority.contains('@') || authority.contains(char::is_whitespace) {
        return Err(CliError::BadFeedUrl(base.to_owned()));
    }
    let path = path.trim_end_matches('/');
    let path = if path.ends_with("/feed") { path.to_owned() } else { format!("{path}/feed") };
    let has_port = authority.rsplit_once(':').is_some_and(|(host, port)| {
        !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && (!host.contains(':') || host.ends_with(']'))
    });
    let (ws_scheme, default_port) = if tls { ("wss", 443) } else { ("ws", 80) };
    let connect_to = if has_port { authority.to_owned() } else { format!("{authority}:{default_port}") };
    Ok(FeedUrl { url: format!("{ws_scheme}://{authority}{path}"), authority: connect_to, tls })
}

/// Why a connection attempt failed.
#[derive(Debug)]
pub enum ConnectError {
    /// Nothing accepted the TCP connection.
    Unreachable(String),
    /// The server answered the upgrade with an HTTP error.
    Refused {
        /// The status code.
        status: u16,
        /// `401 Unauthorized`.
        status_line: String,
        /// The server's `error.code: error.message`, or its body.
        message: String,
    },
    /// Anything else: reset, timeout, a server that is no WebSocket server.
    Failed(String),
    /// Ctrl-C arrived while connecting.
    Interrupted,
}

/// Connects to the feed and upgrades with `Sec-WebSocket-Protocol: hookfeed, <token>`.
pub fn connect(feed: &FeedUrl, token: &str) -> Result<Socket, ConnectError> {
    let stream = open_tcp(&feed.authority)?;
    let io = |e: io::Error| ConnectError::Failed(e.to_string());
    stream.set_nodelay(true).map_err(io)?;
    stream.set_read_timeout(Some(POLL)).map_err(io)?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT)).map_err(io)?;
    let request = request(feed, token)?;
    let connector = if feed.tls {
        let custom = |e: CliError| ConnectError::Failed(e.to_string());
        match CustomRoots::from_env().map_err(custom)? {
            Some(roots) => Some(Connector::Rustls(roots.client_config().map_err(custom)?)),
            // tungstenite's own rustls configuration, with the Mozilla roots.
            None => None,
        }
    } else {
        Some(Connector::Plain)
    };
    let started = Instant::now();
    let mut attempt = tungstenite::client_tls_with_config(request, stream, None, connector);
    loop {
        match attempt {
            Ok((socket, _response)) => return Ok(socket),
            Err(HandshakeError::Interrupted(mid)) => {
                if interrupted() {
                    return Err(ConnectError::Interrupted);
                }
                if started.elapsed() > HANDSHAKE_TIMEOUT {
                    return Err(ConnectError::Failed(format!(
                        "no answer to the WebSocket upgrade within {} s",
                        HANDSHAKE_TIMEOUT.as_secs()
                    )));
                }
                attempt = mid.handshake();
            }
            Err(HandshakeError::Failure(tungstenite::Error::Http(response))) => {
                let status = response.status();
                let status_line = match status.canonical_reason() {
                    Some(reason) => format!("{} {reason}", status.as_u16()),
                    None => status.as_u16().to_string(),
                };
                let message = response.body().as_deref().map(error_message).unwrap_or_default();
                return Err(ConnectError::Refused { status: status.as_u16(), status_line, message });
            }
            Err(HandshakeError::Failure(tungstenite::Error::Io(e))) if e.kind() == io::ErrorKind::TimedOut => {
                return Err(ConnectError::Failed("the WebSocket upgrade timed out".to_owned()));
            }
            Err(HandshakeError::Failure(e)) => return Err(ConnectError::Failed(e.to_string())),
        }
    }
}

fn open_tcp(authority: &str) -> Result<TcpStream, ConnectError> {
    let addrs: Vec<SocketAddr> = authority
        .to_socket_addrs()
        .map_err(|e| ConnectError::Unreachable(format!("cannot resolve {authority}: {e}")))?
        .collect();
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(ConnectError::Unreachable(match last {
        Some(e) => format!("{authority}: {e}"),
        None => format!("{authority} resolves to no address"),
    }))
}

fn request(feed: &FeedUrl, token: &str) -> Result<Request, ConnectError> {
    use tungstenite::client::IntoClientRequest as _;
    let uri: Uri = feed.url.parse().map_err(|e| ConnectError::Failed(format!("{}: {e}", feed.url)))?;
    ClientRequestBuilder::new(uri)
        .with_header("User-Agent", concat!("hookfeed-cli/", env!("CARGO_PKG_VERSION")))
        .with_sub_protocol(SUBPROTOCOL)
        .with_sub_protocol(token.trim())
        .into_client_request()
        .map_err(|e| ConnectError::Failed(format!("cannot build the upgrade request (is the token one line?): {e}")))
}

/// The message of a `{"error": {"code", "message"}}` body, else the body's text (shortened).
fn error_message(body: &[u8]) -> String {
    if let Ok(json) = serde_json::from_slice::<Value>(body) {
        let error = &json["error"];
        match (error["code"].as_str(), error["message"].as_str()) {
            (Some(code), Some(message)) => return format!("{code}: {message}"),
            (None, Some(message)) => return message.to_owned(),
            _ => {}
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Turns the first Ctrl-C into a flag that [`interrupted`] reports, so `tail` can close its
/// socket and exit 0; a second Ctrl-C exits at once (status 130).
pub fn catch_ctrl_c() {
    #[cfg(unix)]
    {
        use signal_hook::consts::SIGINT;
        use signal_hook::flag;
        // The shutdown goes first: armed only once the flag is set by the first Ctrl-C.
        // Failing to install either leaves Ctrl-C's default: the process ends.
        let _ = flag::register_conditional_shutdown(SIGINT, 130, &INTERRUPTED);
        let _ = flag::register(SIGINT, &INTERRUPTED);
    }
}

/// Whether Ctrl-C was pressed.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(base: &str) -> (String, String) {
        let feed = feed_url(base).expect("url");
        (feed.url, feed.authority)
    }

    #[test]
    fn http_urls_become_ws_feed_urls() {
        assert_eq!(url("http://127.0.0.1:8787"), ("ws://127.0.0.1:8787/feed".into(), "127.0.0.1:8787".into()));
        assert_eq!(url("http://127.0.0.1:8787/"), ("ws://127.0.0.1:8787/feed".into(), "127.0.0.1:8787".into()));
        assert_eq!(url("HTTP://localhost"), ("ws://localhost/feed".into(), "localhost:80".into()));
        assert_eq!(url("ws://localhost:9/feed"), ("ws://localhost:9/feed".into(), "localhost:9".into()));
        assert_eq!(url("http://h:1/base/?x=1"), ("ws://h:1/base/feed".into(), "h:1".into()));
        assert_eq!(url("http://[::1]:8787"), ("ws://[::1]:8787/feed".into(), "[::1]:8787".into()));
        assert_eq!(url("http://[::1]"), ("ws://[::1]/feed".into(), "[::1]:80".into()));
    }

    #[test]
    fn healthz_sits_beside_the_feed() {
        let healthz = |base: &str| feed_url(base).expect("url").healthz_url();
        assert_eq!(healthz("http://127.0.0.1:8787"), "http://127.0.0.1:8787/healthz");
        assert_eq!(healthz("wss://edge.example.com/base/feed"), "https://edge.example.com/base/healthz");
        assert_eq!(healthz("https://edge.example.com/base/"), "https://edge.example.com/base/healthz");
    }

    #[test]
    fn https_urls_become_wss_feed_urls() {
        assert_eq!(
            url("https://edge.example.com"),
            ("wss://edge.example.com/feed".into(), "edge.example.com:443".into())
        );
        assert_eq!(
            url("wss://edge.example.com:8443/feed"),
            ("wss://edge.example.com:8443/feed".into(), "edge.example.com:8443".into())
        );
        assert!(feed_url("https://edge.example.com").expect("url").tls);
        assert!(!feed_url("http://edge.example.com").expect("url").tls);
    }

    #[test]
    fn other_schemes_are_refused_with_the_fix() {
        for bad in ["127.0.0.1:8787", "ftp://x", "http://", "http:///feed", "http://user@host"] {
            assert!(matches!(feed_url(bad), Err(CliError::BadFeedUrl(_))), "{bad}");
        }
    }

    #[test]
    fn error_bodies_give_their_code_and_message() {
        assert_eq!(
            error_message(br#"{"error":{"code":"unauthenticated","message":"token expired 5 s ago"}}"#),
            "unauthenticated: token expired 5 s ago"
        );
        assert_eq!(error_message(b"  Not Found\n"), "Not Found");
        assert_eq!(error_message(&[b'x'; 300]).chars().count(), 201);
    }
}
