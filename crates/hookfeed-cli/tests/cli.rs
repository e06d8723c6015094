//! The `hookfeed` binary, run as a user runs it; its output is checked with hookfeed-core.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hookfeed_core::delivery::DeliveryError;
use hookfeed_core::samples::{self, event_types};
use hookfeed_core::signature::ReplayWindow;
use hookfeed_core::source::load_sources;
use hookfeed_core::token::verify_token;
use hookfeed_core::{verify_delivery, BuiltinScheme, Secret, SignatureError, Source, UnixTime, VerifiedDelivery};
use serde_json::{json, Value};

mod scratch;

use scratch::{scratch_dir, Scratch};

// ---------------------------------------------------------------------------------------
// Support
// ---------------------------------------------------------------------------------------

/// A `hookfeed` command that owns the scratch directory it runs in.
struct InScratch {
    command: Command,
    _dir: Scratch,
}

impl Deref for InScratch {
    type Target = Command;

    fn deref(&self) -> &Command {
        &self.command
    }
}

impl DerefMut for InScratch {
    fn deref_mut(&mut self) -> &mut Command {
        &mut self.command
    }
}

/// `hookfeed ARGS` in a fresh directory, with none of the variables it reads set.
fn hookfeed(args: &[&str]) -> InScratch {
    let dir = scratch_dir();
    InScratch { command: hookfeed_in(&dir, args), _dir: dir }
}

/// `hookfeed ARGS` in `dir`, with none of the variables it reads set.
fn hookfeed_in(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookfeed"));
    // What `send --id` remembers stays in the test's directory.
    command.args(args).current_dir(dir).env("HOOKFEED_STATE_DIR", dir.join("state"));
    for var in ["HOOKFEED_SECRET", "HOOKFEED_URL", "TOKEN_SECRET", "SECRET_BILLING"] {
        command.env_remove(var);
    }
    for scheme in BuiltinScheme::ALL {
        command.env_remove(hookfeed_core::source::secret_var(scheme.name()));
    }
    command
}

fn run(command: &mut Command) -> Output {
    run_with_stdin(command, b"")
}

fn run_with_stdin(command: &mut Command, stdin: &[u8]) -> Output {
    let mut child =
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("hookfeed starts");
    child.stdin.take().expect("stdin").write_all(stdin).expect("write stdin");
    child.wait_with_output().expect("hookfeed finishes")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_success(output: &Output) {
    assert!(output.status.success(), "hookfeed failed: {}\n{}", stderr(output), stdout(output));
}

fn assert_error(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(1), "expected exit 1; stdout: {}", stdout(output));
    let err = stderr(output);
    assert!(err.starts_with("error: "), "stderr: {err}");
    err
}

fn now() -> UnixTime {
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_millis();
    UnixTime(i64::try_from(millis).expect("millis fit"))
}

/// A secret in the form `scheme` expects (the scheme's own example).
fn secret_text(scheme: BuiltinScheme) -> &'static str {
    scheme.implementation().example_secret()
}

/// A configured source as the server would load it, with `secrets` (comma-separated).
fn source(name: &str, scheme: BuiltinScheme, secrets: &str) -> Source {
    let json = format!(r#"[{{"name":"{name}","scheme":"{}"}}]"#, scheme.name());
    let secrets = secrets.to_owned();
    load_sources(&json, &move |_: &str| Some(secrets.clone())).expect("valid source").remove(0)
}

/// `Name: value` lines as headers.
fn parse_headers(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (name, value) = line.split_once(": ").expect("`Name: value`");
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

/// A printed request from `send --dry-run`.
struct DryRun {
    request_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn parse_dry_run(output: &Output) -> DryRun {
    assert_success(output);
    let text = stdout(output);
    let (head, body) = text.split_once("\n\n").expect("blank line before the body");
    let (request_line, headers) = head.split_once('\n').expect("request line");
    // The body is printed byte for byte, followed by one newline.
    let body = body.strip_suffix('\n').expect("newline after the body");
    DryRun { request_line: request_line.to_owned(), headers: parse_headers(headers), body: body.as_bytes().to_vec() }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    let found = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name));
    found.map_or_else(|| panic!("no header {name} in {headers:?}"), |(_, v)| v.as_str())
}

/// What core makes of `request` at a twin-actor source with `secret`.
fn verify_twin_actor(request: &DryRun, secret: &str) -> Result<VerifiedDelivery, DeliveryError> {
    verify_delivery(&source("twin-actor", BuiltinScheme::TwinActor, secret), &request.headers, &request.body, now())
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).expect("body is JSON")
}

/// `send --dry-run` of `event_type` to the source named after `scheme`.
fn dry_run(scheme: BuiltinScheme, event_type: &str, extra: &[&str]) -> DryRun {
    let mut args =
        vec!["send", "--source", scheme.name(), "--event", event_type, "--secret", secret_text(scheme), "--dry-run"];
    args.extend_from_slice(extra);
    parse_dry_run(&run(&mut hookfeed(&args)))
}

/// A one-shot HTTP server on a free port: answers the first request with `status` and
/// `body`, and hands back the request's head and body.
fn serve_once(status: &'static str, body: String) -> (String, mpsc::Receiver<(String, Vec<u8>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else { return };
        let (head, request_body) = read_request(&stream);
        let mut stream = stream;
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(response.as_bytes());
        let _ = tx.send((head, request_body));
    });
    (url, rx)
}

fn read_request(stream: &TcpStream) -> (String, Vec<u8>) {
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).expect("read request") == 0 || line == "\r\n" {
            break;
        }
        head.push_str(line.trim_end_matches("\r\n"));
        head.push('\n');
    }
    let length = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-length")))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("read request body");
    (head, body)
}

// ---------------------------------------------------------------------------------------
// sign
// ---------------------------------------------------------------------------------------

#[test]
fn sign_output_verifies_with_core_for_every_scheme() {
    let at = UnixTime::from_secs(1_700_000_000);
    for scheme in BuiltinScheme::ALL {
        let sample = samples::all().find(|s| s.scheme == scheme).expect("a sample per scheme");
        let body = sample.body.as_bytes();
        let output = run_with_stdin(
            &mut hookfeed(&[
                "sign",
                "--scheme",
                scheme.name(),
                "--secret",
                secret_text(scheme),
                "--timestamp",
                "1700000000",
                "--id",
                "evt_sign_test",
                "--event",
                sample.event_type,
            ]),
            body,
        );
        assert_success(&output);
        let headers = parse_headers(&stdout(&output));
        let secrets = [scheme.parse_secret(secret_text(scheme)).expect("usable secret")];
        let window = ReplayWindow { now: at, tolerance_secs: 300 };
        let verifier = scheme.implementation();
        let signed = verifier.verify(&headers, body, &secrets, window);
        assert!(signed.is_ok(), "{scheme}: {signed:?} for {headers:?}");
        let mut altered = body.to_vec();
        altered.push(b' ');
        assert_eq!(verifier.verify(&headers, &altered, &secrets, window), Err(SignatureError::NoMatch), "{scheme}");
    }
}

#[test]
fn sign_reads_a_file_and_signs_its_bytes_exactly() {
    let dir = scratch_dir();
    let path = dir.join("body.json");
    let body = b"{\"id\":\"evt_file\",\"type\":\"project.created\",\"data\":{}}\n";
    std::fs::write(&path, body).expect("write body");
    let file = path.to_str().expect("utf-8 path");
    let output = run(&mut hookfeed_in(
        &dir,
        &["sign", "--scheme", "stripe", "--secret", "whsec_x", "--timestamp", "1700000000", file],
    ));
    assert_success(&output);
    let headers = parse_headers(&stdout(&output));
    let window = ReplayWindow { now: UnixTime::from_secs(1_700_000_000), tolerance_secs: 300 };
    let secrets = [Secret::from_bytes("whsec_x")];
    assert!(BuiltinScheme::Stripe.implementation().verify(&headers, body, &secrets, window).is_ok());
}

#[test]
fn sign_takes_the_event_id_and_type_from_a_twin_actor_body() {
    let sample = hookfeed_core::samples::sample(BuiltinScheme::TwinActor, "project.completed").expect("sample");
    let output = run_with_stdin(
        &mut hookfeed(&["sign", "--scheme", "twin-actor", "--secret", "s3cret"]),
        sample.body.as_bytes(),
    );
    assert_success(&output);
    let headers = parse_headers(&stdout(&output));
    assert_eq!(header(&headers, "X-Webhook-ID"), "evt_abc123");
    assert_eq!(header(&headers, "X-Webhook-Event"), "project.completed");
    let verified = verify_delivery(
        &source("twin-actor", BuiltinScheme::TwinActor, "s3cret"),
        &headers,
        sample.body.as_bytes(),
        now(),
    );
    assert!(verified.is_ok(), "{verified:?}");
}

#[test]
fn sign_without_a_scheme_says_to_pass_one() {
    let err = assert_error(&run(&mut hookfeed(&["sign", "--secret", "x"])));
    assert!(err.contains("--scheme"), "{err}");
}

// ---------------------------------------------------------------------------------------
// send --dry-run
// ---------------------------------------------------------------------------------------

fn every_event_of_a_scheme_verifies(scheme: BuiltinScheme) {
    let source = source(scheme.name(), scheme, secret_text(scheme));
    for event_type in event_types(scheme) {
        let request = dry_run(scheme, event_type, &[]);
        assert_eq!(request.request_line, format!("POST http://127.0.0.1:8787/hooks/{}", scheme.name()));
        assert_eq!(header(&request.headers, "Content-Type"), "application/json");
        let verified = verify_delivery(&source, &request.headers, &request.body, now())
            .unwrap_or_else(|e| panic!("{scheme} {event_type}: {e}"));
        // GitHub's type joins the event header and the body's action: `issues.opened`.
        assert!(verified.event().event_type.starts_with(event_type), "{scheme} {event_type}");
        assert!(verified.event().id.starts_with("evt_"), "{}", verified.event().id);
        assert_eq!(verified.event().id.len(), 28);
    }
}

#[test]
fn send_dry_run_of_every_twin_actor_event_verifies() {
    every_event_of_a_scheme_verifies(BuiltinScheme::TwinActor);
}

#[test]
fn send_dry_run_of_every_percify_event_verifies() {
    every_event_of_a_scheme_verifies(BuiltinScheme::Percify);
}

#[test]
fn send_dry_run_of_the_generic_schemes_verifies() {
    for scheme in [BuiltinScheme::StandardWebhooks, BuiltinScheme::Stripe, BuiltinScheme::Github] {
        every_event_of_a_scheme_verifies(scheme);
    }
}

#[test]
fn send_dry_run_with_tamper_is_refused_as_a_signature_mismatch() {
    for scheme in [BuiltinScheme::TwinActor, BuiltinScheme::Percify] {
        let event_type = event_types(scheme).next().expect("an event type");
        let request = dry_run(scheme, event_type, &["--tamper"]);
        let _still_json = json(&request.body);
        let source = source(scheme.name(), scheme, secret_text(scheme));
        let refused = verify_delivery(&source, &request.headers, &request.body, now()).map(drop);
        assert_eq!(refused, Err(DeliveryError::Signature(SignatureError::NoMatch)), "{scheme}");
    }
}

#[test]
fn send_dry_run_with_stale_is_refused_as_too_old() {
    for scheme in [BuiltinScheme::TwinActor, BuiltinScheme::Percify] {
        let event_type = event_types(scheme).next().expect("an event type");
        let request = dry_run(scheme, event_type, &["--stale"]);
        let source = source(scheme.name(), scheme, secret_text(scheme));
        match verify_delivery(&source, &request.headers, &request.body, now()) {
            Err(DeliveryError::Signature(SignatureError::TimestampTooOld { age_secs, tolerance_secs })) => {
                assert!(age_secs > i64::try_from(tolerance_secs).expect("fits"), "{scheme}: {age_secs}");
            }
            other => panic!("{scheme}: expected TimestampTooOld, got {other:?}"),
        }
    }
}

#[test]
fn send_set_overrides_show_up_in_the_body() {
    let request = dry_run(
        BuiltinScheme::TwinActor,
        "project.completed",
        &["--set", "project_id=42", "--set", "person_name=Ada", "--set", "meta.retry=true", "--set", "label=\"7\""],
    );
    let body = json(&request.body);
    assert_eq!(body["data"]["project_id"], 42);
    assert_eq!(body["data"]["person_name"], "Ada");
    assert_eq!(body["data"]["meta"]["retry"], true);
    assert_eq!(body["data"]["label"], "7");
    let verified = verify_twin_actor(&request, secret_text(BuiltinScheme::TwinActor));
    assert!(verified.is_ok(), "{verified:?}");
}

#[test]
fn send_with_a_given_id_repeats_that_id_for_dedup_demos() {
    let first = dry_run(BuiltinScheme::TwinActor, "project.created", &["--id", "evt_demo_1"]);
    let second = dry_run(BuiltinScheme::TwinActor, "project.created", &["--id", "evt_demo_1"]);
    for request in [&first, &second] {
        assert_eq!(header(&request.headers, "X-Webhook-ID"), "evt_demo_1");
        assert_eq!(json(&request.body)["id"], "evt_demo_1");
    }
    let fresh = dry_run(BuiltinScheme::TwinActor, "project.created", &[]);
    let again = dry_run(BuiltinScheme::TwinActor, "project.created", &[]);
    assert_ne!(header(&fresh.headers, "X-Webhook-ID"), header(&again.headers, "X-Webhook-ID"));
}

/// `hookfeed send` of a twin-actor `project.created` sample, before its other arguments.
const SEND_PROJECT_CREATED: [&str; 5] = ["send", "--source", "twin-actor", "--event", "project.created"];

/// `hookfeed send` of a twin-actor `project.completed` to `url`, signed with `s`, and `extra`.
fn send_project_completed(url: &str, extra: &[&str]) -> Output {
    let mut args =
        vec!["send", "--source", "twin-actor", "--event", "project.completed", "--secret", "s", "--url", url];
    args.extend_from_slice(extra);
    run(&mut hookfeed(&args))
}

/// Sends `args` to a one-shot server from `dir` and hands back the server's URL and the
/// body it received.
fn sent_body(dir: &Path, args: &[&str]) -> (String, Vec<u8>) {
    let (url, request) = serve_once("200 OK", r#"{"received":true,"duplicate":false,"seq":1}"#.to_owned());
    let mut all = vec!["send", "--secret", "s", "--url", &url];
    all.extend_from_slice(args);
    assert_success(&run(&mut hookfeed_in(dir, &all)));
    (url.clone(), request.recv_timeout(Duration::from_secs(10)).expect("the server saw the request").1)
}

/// What `send --dry-run` of `args` to `url` from `dir` would send.
fn dry_run_body(dir: &Path, url: &str, args: &[&str]) -> Vec<u8> {
    let all = [&["send", "--secret", "s", "--dry-run", "--url", url][..], args].concat();
    parse_dry_run(&run(&mut hookfeed_in(dir, &all))).body
}

#[test]
fn send_of_an_id_again_resends_the_first_body_so_the_feed_answers_duplicate() {
    let dir = scratch_dir();
    let resend = ["--source", "twin-actor", "--event", "project.created", "--id", "evt_demo_1"];
    let (url, first) = sent_body(&dir, &resend);
    // Another id is a new event, stamped afresh (a process and a request later: a later ms).
    let (_, other) = sent_body(&dir, &["--source", "twin-actor", "--event", "project.created", "--id", "evt_demo_2"]);
    assert_ne!(json(&other)["created_at"], json(&first)["created_at"]);
    assert_eq!(
        dry_run_body(&dir, &url, &resend),
        first,
        "the same id, event and overrides to the same feed: the same body"
    );
    // The same id with other content is another body (the feed rightly answers `conflict`).
    let changed = dry_run_body(&dir, &url, &[&resend[..], &["--set", "person_name=Ada"]].concat());
    assert_eq!(json(&changed)["created_at"], json(&first)["created_at"]);
    assert_ne!(changed, first);
    // Another server is another feed: the id is new there, and stamped afresh.
    let (_, elsewhere) = sent_body(&dir, &resend);
    assert_ne!(json(&elsewhere)["created_at"], json(&first)["created_at"]);

    // A dry run shows the resend; it records nothing.
    let fresh = ["--source", "twin-actor", "--event", "project.created", "--id", "evt_demo_3"];
    let (fresh_url, sent_fresh) = sent_body(&dir, &fresh);
    let dry_elsewhere = dry_run_body(&dir, "http://127.0.0.1:9", &fresh);
    assert_ne!(json(&dry_elsewhere)["created_at"], json(&sent_fresh)["created_at"]);
    assert_eq!(dry_run_body(&dir, &fresh_url, &fresh), sent_fresh);
    let again = dry_run_body(&dir, "http://127.0.0.1:9", &fresh);
    assert_ne!(json(&again)["created_at"], json(&dry_elsewhere)["created_at"], "the dry run recorded nothing");
}

/// Issue 20's attack review: a Percify resend after its 24 h window reused the first body's
/// `created`, was refused as too old, and the CLI blamed the secret.
#[test]
fn send_of_a_percify_id_after_its_window_says_to_use_a_new_id() {
    let dir = scratch_dir();
    let url = "http://127.0.0.1:9";
    let state = dir.join("state");
    std::fs::create_dir_all(&state).expect("state dir");
    let two_days_ago = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis()
        as i64)
        - 48 * 3600 * 1000;
    let record = format!(r#"{{"url":"{url}/hooks/percify","id":"evt_old","created_ms":{two_days_ago}}}"#);
    std::fs::write(state.join("sent.jsonl"), record + "\n").expect("record");
    let args = ["send", "--source", "percify", "--event", "video.completed", "--id", "evt_old", "--secret", "s"];
    let output = run(&mut hookfeed_in(&dir, &[&args[..], &["--url", url, "--dry-run"]].concat()));
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("first sent 48 h ago") && message.contains("under a new --id"), "{message}");
    // Within the window, the first body is resent.
    let args = ["send", "--source", "twin-actor", "--event", "project.created", "--id", "evt_old", "--secret", "s"];
    assert_success(&run(&mut hookfeed_in(&dir, &[&args[..], &["--url", url, "--dry-run"]].concat())));
}

#[test]
fn send_signs_with_every_secret_during_a_rotation() {
    let request = parse_dry_run(&run(&mut hookfeed(&[
        "send",
        "--source",
        "twin-actor",
        "--event",
        "credits.low",
        "--secret",
        "new-secret,old-secret",
        "--dry-run",
    ])));
    assert_eq!(header(&request.headers, "X-Webhook-Signature").matches("v1=").count(), 2);
    for server_secret in ["new-secret", "old-secret"] {
        let verified = verify_twin_actor(&request, server_secret);
        assert!(verified.is_ok(), "{server_secret}: {verified:?}");
    }
}

#[test]
fn send_of_a_body_file_to_a_custom_source_uses_the_given_scheme() {
    let dir = scratch_dir();
    let path = dir.join("event.json");
    let body = br#"{"id":"evt_file_1","type":"payment_intent.succeeded","created":1700000000,"data":{"object":{}}}"#;
    std::fs::write(&path, body).expect("write body");
    let file = path.to_str().expect("utf-8 path");
    let output = run(&mut hookfeed_in(
        &dir,
        &[
            "send",
            "--source",
            "billing",
            "--scheme",
            "stripe",
            "--body",
            file,
            "--secret",
            "whsec_billing",
            "--dry-run",
        ],
    ));
    let request = parse_dry_run(&output);
    assert_eq!(request.request_line, "POST http://127.0.0.1:8787/hooks/billing");
    assert_eq!(request.body, body);
    let verified = verify_delivery(
        &source("billing", BuiltinScheme::Stripe, "whsec_billing"),
        &request.headers,
        &request.body,
        now(),
    )
    .expect("verifies");
    assert_eq!(verified.event().id, "evt_file_1");
}

#[test]
fn send_to_a_source_that_is_not_a_scheme_name_asks_for_scheme() {
    let err = assert_error(&run(&mut hookfeed(&[
        "send",
        "--source",
        "billing",
        "--event",
        "x",
        "--secret",
        "s",
        "--dry-run",
    ])));
    assert!(err.contains("pass --scheme"), "{err}");
}

#[test]
fn send_with_an_unknown_event_lists_the_known_types() {
    let err = assert_error(&run(&mut hookfeed(&[
        "send",
        "--source",
        "twin-actor",
        "--event",
        "project.exploded",
        "--secret",
        "s",
        "--dry-run",
    ])));
    assert!(err.contains("unknown event type `project.exploded`"), "{err}");
    for event_type in event_types(BuiltinScheme::TwinActor) {
        assert!(err.contains(event_type), "{event_type} missing from: {err}");
    }
}

// ---------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------

#[test]
fn send_reads_the_secret_from_dev_vars_example_when_nothing_else_is_set() {
    let dir = scratch_dir();
    std::fs::write(dir.join(".dev.vars"), "# other secrets only\nSECRET_PERCIFY=p\n").expect("write");
    std::fs::write(dir.join(".dev.vars.example"), "SECRET_TWIN_ACTOR=\"from-example\"\n").expect("write");
    let request = parse_dry_run(&run(&mut hookfeed_in(
        &dir,
        &["send", "--source", "twin-actor", "--event", "project.created", "--dry-run"],
    )));
    let verified = verify_twin_actor(&request, "from-example");
    assert!(verified.is_ok(), "{verified:?}");
}

#[test]
fn send_prefers_the_environment_then_dev_vars_over_the_example() {
    let dir = scratch_dir();
    std::fs::write(dir.join(".dev.vars"), "SECRET_TWIN_ACTOR=from-dev-vars\n").expect("write");
    std::fs::write(dir.join(".dev.vars.example"), "SECRET_TWIN_ACTOR=from-example\n").expect("write");
    let args = ["send", "--source", "twin-actor", "--event", "project.created", "--dry-run"];
    for (expected, env) in [("from-dev-vars", None), ("from-env", Some("from-env"))] {
        let mut command = hookfeed_in(&dir, &args);
        if let Some(value) = env {
            command.env("SECRET_TWIN_ACTOR", value);
        }
        let request = parse_dry_run(&run(&mut command));
        let verified = verify_twin_actor(&request, expected);
        assert!(verified.is_ok(), "{expected}: {verified:?}");
    }
}

#[test]
fn send_without_any_secret_names_the_variable_and_the_files() {
    let err = assert_error(&run(&mut hookfeed(&[&SEND_PROJECT_CREATED[..], &["--dry-run"]].concat())));
    assert!(err.contains("SECRET_TWIN_ACTOR"), "{err}");
    assert!(err.contains(".dev.vars.example"), "{err}");
    assert!(err.contains("--secret"), "{err}");
}

#[test]
fn send_decodes_standard_webhooks_secrets_and_refuses_bad_ones() {
    let request = dry_run(BuiltinScheme::StandardWebhooks, "job.completed", &[]);
    let source =
        source("standard-webhooks", BuiltinScheme::StandardWebhooks, secret_text(BuiltinScheme::StandardWebhooks));
    assert!(verify_delivery(&source, &request.headers, &request.body, now()).is_ok());
    let err = assert_error(&run(&mut hookfeed(&[
        "send",
        "--source",
        "standard-webhooks",
        "--event",
        "job.completed",
        "--secret",
        "whsec_!!!",
        "--dry-run",
    ])));
    assert!(err.contains("base64"), "{err}");
}

// ---------------------------------------------------------------------------------------
// send over the network
// ---------------------------------------------------------------------------------------

#[test]
fn send_to_a_port_with_nothing_listening_says_to_start_npm_run_dev() {
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    let url = format!("http://127.0.0.1:{port}");
    let err =
        assert_error(&run(&mut hookfeed(&[&SEND_PROJECT_CREATED[..], &["--secret", "s", "--url", &url]].concat())));
    assert_eq!(err.trim_end(), format!("error: could not reach {url}: is `npm run dev` running?"));
}

#[test]
fn send_that_the_server_refuses_exits_1_and_prints_the_status() {
    // What the Worker answers a tampered body (reply.rs: core's code and message).
    let refusal = SignatureError::NoMatch;
    let body = json!({"error": {"code": refusal.code(), "message": refusal.to_string()}});
    let (url, request) = serve_once("401 Unauthorized", body.to_string());
    let output = send_project_completed(&url, &["--tamper"]);
    let err = assert_error(&output);
    assert!(err.contains("401"), "{err}");
    let out = stdout(&output);
    assert!(out.starts_with("401 Unauthorized\n"), "{out}");
    assert!(out.contains("signature_mismatch"), "{out}");
    let (head, _) = request.recv_timeout(Duration::from_secs(10)).expect("the server saw the request");
    assert!(head.starts_with("POST /hooks/twin-actor HTTP/1.1\n"), "{head}");
}

#[test]
fn send_that_the_server_accepts_exits_0_and_sends_a_verifiable_request() {
    let (url, request) = serve_once("200 OK", r#"{"received":true,"duplicate":false,"seq":1}"#.to_owned());
    let output = send_project_completed(&url, &["--json", "--set", "project_id=42"]);
    assert_success(&output);
    let line: Value = serde_json::from_str(stdout(&output).trim_end()).expect("one JSON line");
    assert_eq!(line["status"], 200);
    assert_eq!(line["body"]["received"], true);

    let (head, body) = request.recv_timeout(Duration::from_secs(10)).expect("the server saw the request");
    let headers = parse_headers(head.split_once('\n').expect("request line").1);
    let verified = verify_delivery(&source("twin-actor", BuiltinScheme::TwinActor, "s"), &headers, &body, now())
        .expect("verifies");
    assert_eq!(line["event_id"], verified.event().id.as_str());
    assert_eq!(verified.event().data["project_id"], 42);
}

// ---------------------------------------------------------------------------------------
// token, events, usage
// ---------------------------------------------------------------------------------------

fn mint(args: &[&str]) -> String {
    let mut all = vec!["token", "--secret", "token-secret"];
    all.extend_from_slice(args);
    let output = run(&mut hookfeed(&all));
    assert_success(&output);
    let token = stdout(&output);
    assert_eq!(token.lines().count(), 1, "only the token on stdout: {token}");
    token.trim_end().to_owned()
}

#[test]
fn token_output_verifies_with_core() {
    let token = mint(&["--tenant", "demo", "--scope", "projects/*", "--scope", "users/user_abc123"]);
    let claims = verify_token(&token, &[Secret::from_bytes("token-secret")], Some("demo"), now()).expect("valid token");
    assert_eq!(claims.scopes, ["projects/*", "users/user_abc123"]);
    assert!(claims.allows_document(&"projects/42".parse().expect("path")));
    let one_hour = now().as_secs() + 3600;
    assert!((one_hour - 60..=one_hour).contains(&claims.exp), "default ttl is 1h: {}", claims.exp);
}

#[test]
fn token_with_a_ttl_of_7d_expires_in_7_days() {
    let token = mint(&["--scope", "*", "--ttl", "7d"]);
    let claims =
        verify_token(&token, &[Secret::from_bytes("token-secret")], Some("default"), now()).expect("valid token");
    let week = now().as_secs() + 7 * 24 * 3600;
    assert!((week - 60..=week).contains(&claims.exp), "exp {} vs {week}", claims.exp);
}

#[test]
fn token_without_a_scope_explains_the_syntax() {
    let err = assert_error(&run(&mut hookfeed(&["token", "--secret", "token-secret"])));
    assert!(err.contains("--scope projects/42") && err.contains("'projects/*'") && err.contains("'*'"), "{err}");
}

#[test]
fn token_with_an_invalid_scope_or_ttl_is_refused() {
    let err = assert_error(&run(&mut hookfeed(&["token", "--secret", "t", "--scope", "projects"])));
    assert!(err.contains("collection/id"), "{err}");
    let err = assert_error(&run(&mut hookfeed(&["token", "--secret", "t", "--scope", "*", "--ttl", "2 weeks"])));
    assert!(err.contains("90s, 15m, 1h, 7d"), "{err}");
}

#[test]
fn token_reads_token_secret_from_dev_vars() {
    let dir = scratch_dir();
    std::fs::write(dir.join(".dev.vars"), "TOKEN_SECRET=\"file-token-secret\"\n").expect("write");
    let output = run(&mut hookfeed_in(&dir, &["token", "--scope", "projects/42"]));
    assert_success(&output);
    let token = stdout(&output);
    assert!(verify_token(token.trim_end(), &[Secret::from_bytes("file-token-secret")], Some("default"), now()).is_ok());
}

#[test]
fn events_lists_every_known_type_of_a_scheme() {
    let output = run(&mut hookfeed(&["events", "--scheme", "percify"]));
    assert_success(&output);
    assert_eq!(stdout(&output).lines().collect::<Vec<_>>(), event_types(BuiltinScheme::Percify).collect::<Vec<_>>());
    let all = run(&mut hookfeed(&["events"]));
    assert_success(&all);
    for sample in samples::all() {
        assert!(stdout(&all).contains(&format!("  {}\n", sample.event_type)), "{}", sample.event_type);
    }
}

#[test]
fn a_usage_error_exits_1_and_help_exits_0() {
    let output = run(&mut hookfeed(&["send"]));
    assert_error(&output);
    assert!(stderr(&output).contains("--source"));
    let help = run(&mut hookfeed(&["send", "--help"]));
    assert_success(&help);
    assert!(stdout(&help).contains("Examples:"));
}
