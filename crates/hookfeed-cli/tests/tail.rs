//! `hookfeed tail` against a small WebSocket feed run by the test with tungstenite's server
//! side: the frames it sends and checks are core's protocol types.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hookfeed_core::ledger::ChangeKind;
use hookfeed_core::protocol::{
    parse_client_message, ClientMessage, DocEntry, ErrorCode, ListenRequest, ServerMessage, Target,
};
use hookfeed_core::token::{verify_token, TokenError};
use hookfeed_core::{Secret, UnixTime};
use serde_json::{json, Map, Value};
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::http::{HeaderValue, StatusCode};
use tungstenite::{Message, WebSocket};

mod scratch;

use scratch::{scratch_dir, Scratch};

const SECRET: &str = "tail-token-secret";

// ---------------------------------------------------------------------------------------
// Support
// ---------------------------------------------------------------------------------------

/// `hookfeed ARGS` in `dir`, with none of the variables it reads set.
fn hookfeed(dir: &Scratch, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookfeed"));
    command.args(args).current_dir(&**dir).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for var in ["HOOKFEED_TOKEN", "HOOKFEED_URL", "TOKEN_SECRET", "HOOKFEED_SECRET"] {
        command.env_remove(var);
    }
    command
}

/// `hookfeed tail` of `projects/42` at `url` until two events came (20 s at most).
fn tail_two_events_of_project_42(url: &str) -> Output {
    run(&["tail", "--url", url, "--secret", SECRET, "--doc", "projects/42", "--max-events", "2", "--timeout", "20"])
}

fn run(args: &[&str]) -> Output {
    let dir = scratch_dir();
    hookfeed(&dir, args).output().expect("hookfeed runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_exit(output: &Output, code: i32) {
    assert_eq!(output.status.code(), Some(code), "stdout:\n{}\nstderr:\n{}", stdout(output), stderr(output));
}

fn now() -> UnixTime {
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_millis();
    UnixTime(i64::try_from(millis).expect("millis fit"))
}

fn data(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("an object")
}

fn snapshot(id: u32, seq: u64, docs: &[(&str, Value)]) -> ServerMessage {
    ServerMessage::Snapshot {
        id,
        seq,
        docs: docs
            .iter()
            .map(|(path, value)| DocEntry { path: path.parse().expect("path"), data: data(value.clone()) })
            .collect(),
        since: None,
        removed: Vec::new(),
    }
}

fn change(id: u32, seq: u64, path: &str, value: Value) -> ServerMessage {
    ServerMessage::Change {
        id,
        seq,
        path: path.parse().expect("path"),
        kind: ChangeKind::Modified,
        data: Some(data(value)),
    }
}

/// What the feed saw on one connection.
#[derive(Debug, Default)]
struct Seen {
    /// The `Sec-WebSocket-Protocol` header offered.
    protocols: String,
    /// The listens received.
    listens: Vec<ListenRequest>,
    /// Frames that were neither listens nor pings.
    other: Vec<String>,
}

impl Seen {
    /// The offered subprotocols, trimmed.
    fn offered(&self) -> Vec<&str> {
        self.protocols.split(',').map(str::trim).collect()
    }

    /// The token (a JWT) among the offered subprotocols.
    fn token(&self) -> &str {
        self.offered().into_iter().find(|p| p.split('.').count() == 3).expect("a token is offered")
    }
}

/// One accepted connection, driven by a test script.
struct Conn {
    ws: WebSocket<TcpStream>,
    seen: Seen,
}

impl Conn {
    /// Reads frames until a listen arrives; `None` when the client left first.
    fn listen(&mut self) -> Option<ListenRequest> {
        loop {
            match self.ws.read() {
                Ok(Message::Text(text)) if text.as_str() == "ping" => {
                    let _ = self.ws.send(Message::text("pong"));
                }
                Ok(Message::Text(text)) => match parse_client_message(text.as_str()) {
                    Ok(ClientMessage::Listen(request)) => {
                        self.seen.listens.push(request.clone());
                        return Some(request);
                    }
                    _ => self.seen.other.push(text.as_str().to_owned()),
                },
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    fn send(&mut self, message: &ServerMessage) {
        self.ws.send(Message::text(message.to_json())).expect("send a frame");
    }

    /// Reads (and records) until the client closes the connection.
    fn drain(&mut self) {
        while self.listen().is_some() {}
    }

    /// Closes from the server's side, as a deploy or a restart would.
    fn close(mut self) -> Seen {
        let _ = self.ws.close(None);
        while self.ws.read().is_ok() {}
        self.seen
    }
}

/// A feed of one connection that answers its first listen with an empty snapshot and
/// then sends nothing more.
fn quiet_feed() -> (String, mpsc::Receiver<Seen>) {
    feed(1, |_, conn| {
        let listen = conn.listen().expect("a listen");
        conn.send(&snapshot(listen.id, 1, &[]));
        conn.drain();
    })
}

/// A WebSocket feed on 127.0.0.1:0 that answers the upgrade with `hookfeed` (as the Worker
/// does) and runs `script` on each of `connections` connections in turn. Returns the
/// server's http:// URL and what each connection saw.
// tungstenite's handshake callback returns its `ErrorResponse` by value.
#[allow(clippy::result_large_err)]
fn feed<F>(connections: usize, script: F) -> (String, mpsc::Receiver<Seen>)
where
    F: Fn(usize, &mut Conn) + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut index = 0;
        while index < connections {
            let Ok((stream, _)) = listener.accept() else { return };
            stream.set_read_timeout(Some(Duration::from_secs(20))).expect("read timeout");
            let (protocols_tx, protocols_rx) = mpsc::channel();
            let callback = move |request: &Request, mut response: Response| -> Result<Response, ErrorResponse> {
                let offered = request
                    .headers()
                    .get("sec-websocket-protocol")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                if offered.split(',').any(|p| p.trim() == "hookfeed") {
                    response.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("hookfeed"));
                }
                let _ = protocols_tx.send(offered);
                Ok(response)
            };
            // Anything but an upgrade (tail's look at GET /healthz, which this feed does not
            // serve) is refused and not counted.
            let Ok(ws) = tungstenite::accept_hdr(stream, callback) else { continue };
            let mut conn = Conn { ws, seen: Seen::default() };
            conn.seen.protocols = protocols_rx.recv().unwrap_or_default();
            script(index, &mut conn);
            let _ = tx.send(conn.close());
            index += 1;
        }
    });
    (url, rx)
}

fn seen(rx: &mpsc::Receiver<Seen>) -> Seen {
    rx.recv_timeout(Duration::from_secs(20)).expect("the feed saw a connection")
}

/// `HH:MM:SS rest`: the rest, after checking the time's shape.
fn after_time(line: &str) -> &str {
    let (time, rest) = line.split_once(' ').unwrap_or_else(|| panic!("no time in {line:?}"));
    let ok = time.len() == 8
        && time.bytes().enumerate().all(|(i, b)| if i == 2 || i == 5 { b == b':' } else { b.is_ascii_digit() });
    assert!(ok, "{line:?} does not start with HH:MM:SS");
    rest
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[test]
fn tail_prints_the_snapshot_and_changes_then_exits_0_after_max_events() {
    let (url, rx) = feed(1, |_, conn| {
        let listen = conn.listen().expect("a listen");
        assert_eq!(listen.target, Target::Document("projects/42".parse().expect("path")));
        assert_eq!(listen.since, None);
        conn.send(&snapshot(listen.id, 17, &[("projects/42", json!({"status": "processing", "progress": 40}))]));
        conn.send(&change(listen.id, 18, "projects/42", json!({"status": "processing", "progress": 70})));
        conn.send(&change(
            listen.id,
            19,
            "projects/42",
            json!({"status": "completed", "progress": 100, "final_video_url": "https://cdn.example.com/42.mp4"}),
        ));
    });
    let output = tail_two_events_of_project_42(&url);
    assert_exit(&output, 0);
    let out = stdout(&output);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[0], r#"snapshot projects/42 {"progress":40,"status":"processing"}"#);
    assert_eq!(after_time(lines[1]), "modified projects/42 status=processing progress=70");
    assert_eq!(
        after_time(lines[2]),
        "modified projects/42 status=completed progress=100 final_video_url=https://cdn.example.com/42.mp4"
    );

    let seen = seen(&rx);
    assert!(seen.offered().contains(&"hookfeed"), "offered: {}", seen.protocols);
    assert_eq!(seen.offered().len(), 2, "hookfeed and the token: {}", seen.protocols);
    let claims =
        verify_token(seen.token(), &[Secret::from_bytes(SECRET)], Some("default"), now()).expect("a valid token");
    assert_eq!(claims.scopes, ["projects/42"]);
    let hour = claims.exp - now().as_secs();
    assert!((3590..=3600).contains(&hour), "expires in {hour} s");
}

#[test]
fn tail_json_prints_each_server_frame_verbatim() {
    let frames = [
        snapshot(1, 3, &[]).to_json(),
        change(1, 4, "projects/7", json!({"status": "created", "progress": 0})).to_json(),
    ];
    let sent = frames.clone();
    let (url, rx) = feed(1, move |_, conn| {
        conn.listen().expect("a listen");
        for frame in &sent {
            conn.ws.send(Message::text(frame.clone())).expect("send");
        }
        // A pong between frames is not JSON and is not printed.
        conn.ws.send(Message::text("pong")).expect("send");
        conn.drain();
    });
    let output = run(&[
        "tail",
        "--url",
        &url,
        "--secret",
        SECRET,
        "--collection",
        "projects",
        "--where",
        "status==created",
        "--json",
        "--max-events",
        "1",
        "--timeout",
        "20",
    ]);
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), format!("{}\n{}\n", frames[0], frames[1]));
    let seen = seen(&rx);
    let wire = serde_json::to_value(&seen.listens[0]).expect("json");
    assert_eq!(
        wire,
        json!({"id": 1, "target": {"collection": "projects", "where": [{"field": "status", "op": "==", "value": "created"}]}})
    );
    let claims = verify_token(seen.token(), &[Secret::from_bytes(SECRET)], None, now()).expect("a valid token");
    assert_eq!(claims.scopes, ["projects/*"]);
}

#[test]
fn tail_reconnects_after_a_drop_and_resumes_after_the_last_seq() {
    let (url, rx) = feed(2, |index, conn| {
        let listen = conn.listen().expect("a listen");
        if index == 0 {
            conn.send(&snapshot(listen.id, 5, &[("projects/42", json!({"status": "processing", "progress": 10}))]));
            conn.send(&change(listen.id, 6, "projects/42", json!({"status": "processing", "progress": 50})));
            // Then the connection drops (`close` runs when the script returns).
        } else {
            conn.send(&ServerMessage::Snapshot {
                id: listen.id,
                seq: 6,
                docs: Vec::new(),
                since: listen.since,
                removed: Vec::new(),
            });
            conn.send(&change(listen.id, 7, "projects/42", json!({"status": "completed", "progress": 100})));
            conn.drain();
        }
    });
    let output = tail_two_events_of_project_42(&url);
    assert_exit(&output, 0);
    let first = seen(&rx);
    let second = seen(&rx);
    assert_eq!(first.listens[0].since, None);
    assert_eq!(second.listens.len(), 1);
    assert_eq!(second.listens[0].since, Some(6), "the resume asks for what came after the change it saw");
    assert_eq!(second.listens[0].target, first.listens[0].target);

    let out = stdout(&output);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("snapshot projects/42 "), "{out}");
    assert_eq!(after_time(lines[1]), "modified projects/42 status=processing progress=50");
    assert_eq!(after_time(lines[2]), "modified projects/42 status=completed progress=100");
    let err = stderr(&output);
    assert!(err.contains("reconnecting in "), "{err}");
    assert!(err.contains("reconnected to ws://"), "{err}");
}

#[test]
fn tail_with_a_token_the_feed_refuses_exits_1_with_its_message() {
    let (url, rx) = feed(1, |_, conn| {
        let listen = conn.listen().expect("a listen");
        conn.send(&ServerMessage::Error {
            id: Some(listen.id),
            code: ErrorCode::PermissionDenied,
            message: "token does not grant `projects/42`".into(),
        });
        conn.drain();
    });
    let output =
        run(&["tail", "--url", &url, "--token", "not.a-real.token", "--doc", "projects/42", "--timeout", "20"]);
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(err.contains("error permission-denied: token does not grant `projects/42`\n"), "{err}");
    assert!(
        err.contains("error: every listen was refused (last: permission-denied: token does not grant `projects/42`)"),
        "{err}"
    );
    assert!(err.contains("drop --token"), "the fix is named: {err}");
    assert_eq!(stdout(&output), "");
    assert_eq!(seen(&rx).token(), "not.a-real.token");
}

#[test]
#[allow(clippy::result_large_err)] // tungstenite's handshake callback returns its `ErrorResponse` by value.
fn tail_refused_at_the_upgrade_exits_1_with_the_servers_message() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else { return };
        // What the Worker answers an expired token before the upgrade (its reply.rs): 401 with
        // the code `token_expired`. Firestore's `unauthenticated` is for error frames only.
        let refuse = |_: &Request, _: Response| -> Result<Response, ErrorResponse> {
            let body = json!({"error": {"code": "token_expired", "message": TokenError::Expired(30).to_string()}});
            let mut response = ErrorResponse::new(Some(body.to_string()));
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            response.headers_mut().insert("WWW-Authenticate", HeaderValue::from_static("Bearer"));
            Err(response)
        };
        let _ = tungstenite::accept_hdr(stream, refuse);
    });
    let output = run(&["tail", "--url", &url, "--token", "an.old.token", "--doc", "projects/42", "--timeout", "20"]);
    assert_exit(&output, 1);
    let err = stderr(&output);
    assert!(
        err.contains(
            "error: the server refused the WebSocket with 401 Unauthorized: token_expired: token expired 30 s ago"
        ),
        "{err}"
    );
}

#[test]
fn tail_without_targets_watches_every_builtin_collection_with_a_star_token() {
    let (url, rx) = feed(1, |_, conn| {
        let listen = conn.listen().expect("a listen");
        conn.send(&snapshot(listen.id, 1, &[]));
        conn.send(&change(listen.id, 2, "projects/1", json!({"status": "created"})));
        conn.drain();
    });
    let output =
        run(&["tail", "--url", &url, "--secret", SECRET, "--tenant", "demo", "--max-events", "1", "--timeout", "20"]);
    assert_exit(&output, 0);
    let out = stdout(&output);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "snapshot projects: (no documents yet)");
    assert_eq!(after_time(lines[1]), "modified projects/1 status=created");
    assert!(stderr(&output).contains("no --doc or --collection: watching projects, "), "{}", stderr(&output));

    let seen = seen(&rx);
    let collections: Vec<&str> = seen.listens.iter().map(|l| l.target.collection()).collect();
    for expected in ["projects", "voice_clones", "account", "avatars", "videos", "audio", "voices", "users"] {
        assert!(collections.contains(&expected), "{expected} missing from {collections:?}");
    }
    let ids: Vec<u32> = seen.listens.iter().map(|l| l.id).collect();
    assert_eq!(ids, (1..=collections.len() as u32).collect::<Vec<_>>());
    let claims = verify_token(seen.token(), &[Secret::from_bytes(SECRET)], Some("demo"), now()).expect("a valid token");
    assert_eq!(claims.scopes, ["*"]);
}

#[test]
fn tail_times_out_with_exit_1_when_max_events_do_not_arrive() {
    let (url, _rx) = quiet_feed();
    let output =
        run(&["tail", "--url", &url, "--secret", SECRET, "--doc", "projects/9", "--max-events", "3", "--timeout", "1"]);
    assert_exit(&output, 1);
    assert_eq!(stdout(&output), "snapshot projects/9: (does not exist yet)\n");
    assert!(stderr(&output).contains("error: timed out after 1 s with 0 of 3 changes"), "{}", stderr(&output));
}

#[cfg(unix)]
#[test]
fn tail_exits_0_on_ctrl_c() {
    let (url, rx) = quiet_feed();
    let dir = scratch_dir();
    let mut child =
        hookfeed(&dir, &["tail", "--url", &url, "--secret", SECRET, "--doc", "projects/1", "--timeout", "20"])
            .spawn()
            .expect("hookfeed starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first).expect("a line");
    assert_eq!(first, "snapshot projects/1: (does not exist yet)\n");
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill runs");
    assert!(status.success());
    let output = child.wait_with_output().expect("hookfeed ends");
    assert_exit(&output, 0);
    // The feed saw the connection end (the script's drain returned).
    assert_eq!(seen(&rx).listens.len(), 1);
}

#[test]
fn tail_checks_its_url_secret_and_server_before_listening() {
    let err = stderr(&run(&["tail", "--url", "ftp://edge.example.com", "--doc", "projects/1"]));
    assert!(
        err.starts_with("error: `ftp://edge.example.com` is not an http://, https://, ws:// or wss:// URL"),
        "{err}"
    );

    let err = stderr(&run(&["tail", "--doc", "projects/1"]));
    assert!(err.contains("no secret for minting a token for tail (or pass --token)"), "{err}");
    assert!(err.contains("TOKEN_SECRET"), "{err}");

    let output = run(&["tail", "--where", "status==failed"]);
    assert_exit(&output, 1);
    assert!(stderr(&output).contains("--collection"), "{}", stderr(&output));

    let output = run(&["tail", "--doc", "projects"]);
    assert_exit(&output, 1);
    assert!(stderr(&output).contains("not a document path"), "{}", stderr(&output));

    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    let url = format!("http://127.0.0.1:{port}");
    let output = run(&["tail", "--url", &url, "--secret", SECRET, "--doc", "projects/1"]);
    assert_exit(&output, 1);
    assert_eq!(
        stderr(&output).lines().last(),
        Some(format!("error: could not reach {url}: is `npm run dev` running?").as_str())
    );
}

#[test]
fn tail_keeps_retrying_with_growing_delays_while_the_server_is_down() {
    // One connection, then the feed goes away entirely: every reconnect is refused.
    let (url, _rx) = feed(1, |_, conn| {
        let listen = conn.listen().expect("a listen");
        conn.send(&snapshot(listen.id, 1, &[]));
    });
    let output = run(&["tail", "--url", &url, "--secret", SECRET, "--doc", "projects/1", "--timeout", "2.5"]);
    assert_exit(&output, 0);
    let err = stderr(&output);
    let delays: Vec<f64> = err
        .lines()
        .filter_map(|line| line.split_once("reconnecting in ")?.1.strip_suffix(" s…")?.parse().ok())
        .collect();
    // hookfeed-wire's backoff, as the browser module's: 250 ms doubling, equal jitter (each
    // delay between half and all of its step), printed to a tenth of a second.
    assert!(delays.len() >= 3, "{err}");
    assert!((0.1..=0.3).contains(&delays[0]), "first delay {}: {err}", delays[0]);
    assert!((0.2..=0.5).contains(&delays[1]), "second delay {}: {err}", delays[1]);
    assert!((0.5..=1.0).contains(&delays[2]), "third delay {}: {err}", delays[2]);
    assert!(err.contains("stopped: --timeout passed"), "{err}");
}
