//! What each fuzz target runs: one function per parser of outside input in hookfeed-core,
//! driven as the Worker drives it, and the seeds each starts from.
//!
//! The libFuzzer targets in `fuzz/fuzz_targets/` call these with coverage-guided bytes.
//! hookfeed-core's test suite depends on this crate and calls the same functions with
//! proptest's bytes and with every seed (`tests/integration/robustness.rs`), so plain
//! `cargo test` runs each target briefly. Nothing here may panic but a bug: a panic is
//! what the fuzzer reports.

use std::path::Path;
use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use hookfeed_core::batch::{parse_frames, push_frame, MAX_BATCH_DELIVERIES};
use hookfeed_core::delivery::Handoff;
use hookfeed_core::fanout::{
    snapshot, ChangeFrame, Recipient, SocketAction, SocketState, StoredDoc, SubscriptionIndex,
};
use hookfeed_core::identity::{begin_identity, is_identity_token, load_identity, IdentityProvider, JwkSet};
use hookfeed_core::ledger::{ingest, ChangeKind, DocChange, Ingested, MemoryStore, Seq};
use hookfeed_core::mac::hmac_sha256;
use hookfeed_core::path::{check_collection, DocPath};
use hookfeed_core::projection::project;
use hookfeed_core::protocol::parse_client_message;
use hookfeed_core::refusal::{quote, Refusal, RefusalLog};
use hookfeed_core::signature::configured::{presets, URL_HEADER};
use hookfeed_core::signature::{Field, Headers, ReplayWindow, Scheme, SigningInput};
use hookfeed_core::source::{
    load_sources, split_secrets, switch_setting, whole_number_setting, SchemeName, Source, SourceConfig, SourceScheme,
};
use hookfeed_core::token::{mint_token, verify_token, Jwt, TokenClaims};
use hookfeed_core::{verify_delivery, BuiltinScheme, Event, Secret, UnixTime, VerifiedDelivery};

/// The time every target runs at unless its input says: the test vectors' own
/// (2024-03-20T10:15:00Z).
pub const NOW: i64 = 1_710_929_700;

/// The secret the `token` target mints and verifies with.
pub const TOKEN_SECRET: &str = "fuzz-token-secret";

/// Most frames one `client_frames` input sends.
pub const MAX_FRAMES: usize = 64;

/// A fuzz target: its binary's name in `fuzz/fuzz_targets/` and the function it runs.
pub struct Target {
    /// The binary's name, as given to `cargo fuzz run` and `scripts/fuzz.sh`.
    pub name: &'static str,
    /// Runs one input.
    pub run: fn(&[u8]),
}

/// Every target, in the order `scripts/fuzz.sh all` runs them (`cargo fuzz list`'s).
pub const TARGETS: [Target; 8] = [
    Target { name: "batch", run: batch },
    Target { name: "client_frames", run: client_frames },
    Target { name: "config", run: config },
    Target { name: "delivery", run: delivery },
    Target { name: "delivery_hmac", run: delivery_hmac },
    Target { name: "doc_path", run: doc_path },
    Target { name: "event_body", run: event_body },
    Target { name: "token", run: token },
];

fn now() -> UnixTime {
    UnixTime::from_secs(NOW)
}

// ---------------------------------------------------------------------------------------
// token

/// `token`: the bytes as a token, as the Worker reads one from `Sec-WebSocket-Protocol`;
/// then the same bytes as the claims of a correctly signed token, so the claims parser
/// is reached too.
pub fn token(data: &[u8]) {
    let secrets = [Secret::from_bytes(TOKEN_SECRET)];
    let text = String::from_utf8_lossy(data);
    if let Ok(claims) = verify_token(&text, &secrets, Some("acme"), now()) {
        use_claims(&claims);
    }
    if let Ok(claims) = verify_token(&sign_claims(data), &secrets, None, now()) {
        use_claims(&claims);
    }
    // The identity provider's path: the same bytes as a token, as an RS256 token's claims
    // (its claim checks run before any signature), and as the provider's JWKS document.
    let providers = identity_providers();
    for candidate in [text.to_string(), unsigned_identity_token(data)] {
        if let Ok(jwt) = Jwt::parse(&candidate) {
            let _ = is_identity_token(&jwt);
            if let Ok(pending) = begin_identity(jwt, providers, None, now()) {
                let _ = pending.unknown_key();
                if let Ok(keys) = JwkSet::parse(data) {
                    let _ = pending.key(&keys);
                }
                if let Ok(claims) = pending.accept(true) {
                    use_claims(&claims);
                }
            }
        }
    }
}

/// The identity providers the `token` target checks identity tokens against: Firebase's
/// shape, owner-scoped.
fn identity_providers() -> &'static [IdentityProvider] {
    static PROVIDERS: OnceLock<Vec<IdentityProvider>> = OnceLock::new();
    PROVIDERS.get_or_init(|| {
        load_identity(
            r#"[{"tenant": "acme", "issuer": "https://securetoken.google.com/demo-project", "audience": "demo-project",
                "jwks_url": "https://idp.test/jwks.json", "owner": {"projects": "user_id"}, "scopes_claim": "scopes"}]"#,
        )
        .unwrap_or_default()
    })
}

/// An RS256 token whose claims part is `claims_json` as given, with a signature of the
/// right length (the claims are checked before it).
pub fn unsigned_identity_token(claims_json: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims_json),
        URL_SAFE_NO_PAD.encode([0u8; 256])
    )
}

/// A token whose claims part is `claims_json` as given, signed with [`TOKEN_SECRET`].
pub fn sign_claims(claims_json: &[u8]) -> String {
    let signed =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#), URL_SAFE_NO_PAD.encode(claims_json));
    let tag = hmac_sha256(&Secret::from_bytes(TOKEN_SECRET), &[signed.as_bytes()]);
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag.as_bytes()))
}

fn use_claims(claims: &TokenClaims) {
    let _ = claims.expired(now());
    let _ = claims.owner_guard("projects");
    for path in stored_docs().iter().map(|d| &d.path).take(3) {
        let _ = claims.authorize_document(path);
        let _ = claims.authorize_collection(path.collection());
    }
}

// ---------------------------------------------------------------------------------------
// deliveries

/// A delivery as a target's input spells it:
///
/// ```text
/// <now, Unix seconds>
/// <the source's secret variable: one secret, or several comma-separated>
/// <Header-Name>: <value>
/// …
///
/// <body>
/// ```
///
/// An unreadable `now` is [`NOW`]; an unusable secret is the scheme's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery<'a> {
    /// The verifier's clock.
    pub now: UnixTime,
    /// The source's secret variable.
    pub secrets: String,
    /// The request's headers.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: &'a [u8],
}

fn split_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// Reads a delivery target's input.
pub fn parse_delivery(data: &[u8]) -> Delivery<'_> {
    let (now_line, rest) = split_line(data);
    let now = String::from_utf8_lossy(now_line).trim().parse().map_or_else(|_| now(), UnixTime::from_secs);
    let (secret_line, mut rest) = split_line(rest);
    let mut headers = Vec::new();
    while !rest.is_empty() {
        let (line, after) = split_line(rest);
        rest = after;
        if line.is_empty() {
            break;
        }
        let line = String::from_utf8_lossy(line);
        let (name, value) = line.split_once(':').unwrap_or((&line, ""));
        headers.push((name.to_owned(), value.strip_prefix(' ').unwrap_or(value).to_owned()));
    }
    Delivery { now, secrets: String::from_utf8_lossy(secret_line).into_owned(), headers, body: rest }
}

/// Writes a delivery in the form [`parse_delivery`] reads.
pub fn format_delivery(now: i64, secrets: &str, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{now}\n{secrets}\n").into_bytes();
    for (name, value) in headers {
        out.extend_from_slice(format!("{name}: {value}\n").as_bytes());
    }
    out.push(b'\n');
    out.extend_from_slice(body);
    out
}

/// The secret a target's source is configured with: the scheme's own example.
pub fn default_secret(scheme: BuiltinScheme) -> &'static str {
    scheme.implementation().example_secret()
}

/// A source of `scheme` named after it, with defaults, resolved as the Worker resolves
/// `SECRET_<NAME>`; the scheme's default secret when `secrets` is not usable.
pub fn source(scheme: BuiltinScheme, secrets: &str) -> Option<Source> {
    let config = SourceConfig::new(scheme.name(), scheme.into());
    config
        .clone()
        .resolve(&|_| Some(secrets.to_owned()))
        .or_else(|_| config.resolve(&|_| Some(default_secret(scheme).to_owned())))
        .ok()
}

/// `delivery`: the first byte picks a built-in scheme by its place in the registry
/// ([`BuiltinScheme::ALL`]), the rest is a delivery to a source of it ([`delivery_to`]). One
/// target for every scheme, so a scheme added to the registry is fuzzed with no new target.
pub fn delivery(data: &[u8]) {
    let Some((pick, rest)) = data.split_first() else { return };
    delivery_to(BuiltinScheme::ALL[usize::from(*pick) % BuiltinScheme::ALL.len()], rest);
}

/// A delivery to a source of `scheme`: arbitrary headers, body, clock and secrets through
/// [`verify_delivery`]; what verifies goes into the log and a change frame, what does not
/// into the edge's refusal log, as the Worker records it.
pub fn delivery_to(scheme: BuiltinScheme, data: &[u8]) {
    let delivery = parse_delivery(data);
    let Some(source) = source(scheme, &delivery.secrets) else { return };
    deliver(&source, &delivery);
}

/// A source with the `hmac` scheme and the preset `preset`, resolved as [`source`] does.
pub fn hmac_source(preset: &str, secrets: &str) -> Option<Source> {
    let config = SourceConfig {
        hmac: Some(Value::String(preset.to_owned())),
        ..SourceConfig::new(format!("hmac-{preset}"), SchemeName::Hmac)
    };
    let source = config.clone().resolve(&|_| Some(secrets.to_owned())).ok();
    source.or_else(|| {
        let example = hookfeed_core::signature::HmacProfile::preset(preset).ok()?.example_secret();
        config.resolve(&|_| Some(example.to_owned())).ok()
    })
}

/// `delivery_hmac`: the delivery to a source of every preset `hmac` profile in turn
/// (every shape a profile can take is among them: hex and base64, SHA-1 to SHA-512,
/// prefixes, separators, a timestamp in its own header or in the signature's, Unix,
/// millisecond and RFC 3339 times, `{url}`, body-field and header ids). The `config`
/// target covers profiles written out.
pub fn delivery_hmac(data: &[u8]) {
    let delivery = parse_delivery(data);
    for (preset, _) in presets() {
        if let Some(source) = hmac_source(&preset, &delivery.secrets) {
            deliver(&source, &delivery);
        }
    }
}

fn deliver(source: &Source, delivery: &Delivery<'_>) {
    match verify_delivery(source, &delivery.headers, delivery.body, delivery.now) {
        Ok(verified) => store(source, &verified),
        Err(refused) => {
            let client = delivery.headers.header("CF-Connecting-IP").unwrap_or(CLIENT);
            let mut log = RefusalLog::default();
            let refusal = Refusal {
                at: delivery.now,
                source: source.name.clone(),
                code: refused.code(),
                status: 401,
                message: refused.to_string(),
                client: client.to_owned(),
            };
            log.record(refusal, true);
            let _ = quote(&refused.to_string());
            assert_eq!(log.recent(|_| true).count(), 1, "the refusal is kept");
        }
    }
}

/// What the edge and the feed do with a verified delivery: the hand-off travels as JSON
/// and the feed rebuilds the same event from it and the raw body; then the delivery is
/// logged and projected (twice: the second is a duplicate), and the change is framed for
/// every kind of recipient.
fn store(source: &Source, verified: &VerifiedDelivery) {
    let handoff = serde_json::to_string(&verified.handoff()).map_err(|e| e.to_string());
    let received = handoff.as_deref().map(serde_json::from_str::<Handoff>);
    let rebuilt = match &received {
        Ok(Ok(handoff)) => VerifiedDelivery::from_handoff(source, handoff, verified.raw().to_vec()),
        _ => panic!("a hand-off must survive its trip as JSON: {handoff:?} arrived as {received:?}"),
    };
    let rebuilt = match rebuilt {
        Ok(rebuilt) if rebuilt.event() == verified.event() => rebuilt,
        other => panic!("the feed must rebuild the event the edge verified: {:?}, got {other:?}", verified.event()),
    };
    let mut log = MemoryStore::default();
    for _ in 0..2 {
        let ingested = match ingest(&mut log, &rebuilt, &source.rules) {
            Ok(ingested) => ingested,
            Err(never) => match never {},
        };
        if let Ingested::Stored { change: Some(change), .. } = ingested {
            frame(&change, &[ChangeKind::Added, ChangeKind::Modified, ChangeKind::Removed]);
        }
    }
}

fn frame(change: &DocChange, kinds: &[ChangeKind]) {
    let frame = ChangeFrame::new(change);
    for &kind in kinds {
        let _ = frame.for_recipient(&Recipient { sid: 1, listen_id: 1, kind });
    }
}

// ---------------------------------------------------------------------------------------
// event bodies

/// `event_body`: the first byte picks the scheme, the rest is the body, signed validly
/// (with the body's own `id` and `type` in the headers that carry them, so Twin.Actor's
/// cross-check passes) so that the event parser, the projection and the log are reached.
pub fn event_body(data: &[u8]) {
    if let Some((source, verified)) = verify_event_body(data) {
        store(&source, &verified);
    }
}

/// The `event_body` input's delivery, verified, when the body is an acceptable event.
pub fn verify_event_body(data: &[u8]) -> Option<(Source, VerifiedDelivery)> {
    let (&pick, body) = data.split_first()?;
    let scheme = BuiltinScheme::ALL[usize::from(pick) % BuiltinScheme::ALL.len()];
    let source = source(scheme, default_secret(scheme))?;
    let fields = match serde_json::from_slice(body) {
        Ok(Value::Object(fields)) => fields,
        _ => Map::new(),
    };
    let text = |name: &str, otherwise: &'static str| -> String {
        match fields.get(name) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => otherwise.to_owned(),
        }
    };
    // The id and type the headers carry: the body's own where the scheme keeps them
    // there, and for a header-only type (GitHub's) a sample's.
    let layout = scheme.body_layout();
    let event_id = text("id", "evt_fuzz");
    let event_type = match layout.event_type {
        Field::Body(field) => text(field, "fuzz.event"),
        Field::Header => scheme.samples().first().map_or("fuzz.event", |s| s.event_type).to_owned(),
    };
    let input = SigningInput { body, timestamp: now(), event_id: &event_id, event_type: &event_type };
    let headers = scheme.implementation().sign(&input, &source.secrets);
    let verified = verify_delivery(&source, &headers, body, now()).ok()?;
    Some((source, verified))
}

// ---------------------------------------------------------------------------------------
// listen frames

const HEAD: Seq = 100;

/// Documents of every kind of field value, enough of them (the standard sort checks its
/// order only past 20) for `orderBy` and `where` to meet every mix.
fn stored_docs() -> &'static [StoredDoc] {
    static DOCS: OnceLock<Vec<StoredDoc>> = OnceLock::new();
    DOCS.get_or_init(|| {
        let values =
            [json!(3), json!("b"), json!(true), json!(null), json!(1.5), json!("a"), json!(false), json!([1, "x"])];
        let pick = |i: usize| values[i % values.len()].clone();
        let mut docs = Vec::new();
        for (collection, count) in [("projects", 40), ("users", 24)] {
            for i in 0..count {
                let data = json!({
                    "status": pick(i * 3 + i / 2),
                    "progress": pick(i * 5),
                    "n": pick(i * 4 + i / 2),
                    "error": {"code": pick(i * 7 + 1)},
                    "tags": [pick(i), pick(i + 1)],
                });
                let Ok(path) = DocPath::new(collection, &format!("{collection}_{i}")) else { continue };
                let data = data.as_object().cloned().unwrap_or_default();
                docs.push(StoredDoc { path, data, seq: (i as Seq) % HEAD + 1 });
            }
        }
        docs
    })
}

/// Changes to the stored documents that move them in and out of any filter.
fn changes() -> Vec<DocChange> {
    stored_docs()
        .iter()
        .step_by(5)
        .enumerate()
        .map(|(i, doc)| {
            let mut data = doc.data.clone();
            data.insert("status".into(), json!(["processing", "completed", "failed"][i % 3]));
            data.insert("n".into(), json!(i));
            let (kind, before) = match i % 3 {
                0 => (ChangeKind::Added, None),
                1 => (ChangeKind::Modified, Some(doc.data.clone())),
                _ => (ChangeKind::Removed, Some(doc.data.clone())),
            };
            DocChange { path: doc.path.clone(), kind, seq: HEAD + 1 + i as Seq, before, data }
        })
        .collect()
}

fn claims(scopes: &[&str]) -> TokenClaims {
    TokenClaims::new("acme", scopes.iter().map(|s| (*s).to_owned()).collect(), NOW + 3600)
}

/// A token of user `users_1` that reads `projects` by owner (`user_id`).
fn owner_claims() -> TokenClaims {
    let mut claims = claims(&["users/users_1"]);
    claims.sub = Some("users_1".to_owned());
    claims.owner.insert("projects".to_owned(), "user_id".to_owned());
    claims
}

/// The client address the `client_frames` sockets connect from.
const CLIENT: &str = "203.0.113.9";

/// `client_frames`: one frame per line, each parsed and handed to three sockets (one that
/// may read everything, one with narrow scopes, one owner-scoped) as the feed hands them. Each accepted
/// listen is indexed and answered with a snapshot of the stored documents; then changes
/// are fanned out, and the narrow socket's token expires. Each socket's state must
/// survive the attachment round trip (the feed hibernates), and closing the sockets must
/// leave the index empty.
pub fn client_frames(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut sockets = [
        SocketState::new(1, claims(&["*"])).from_client(CLIENT),
        SocketState::new(2, claims(&["projects/*", "users/users_1"])).from_client(CLIENT),
        SocketState::new(3, owner_claims()).from_client(CLIENT),
    ];
    let mut index = SubscriptionIndex::default();
    for socket in &sockets {
        index.add_socket(socket);
    }
    for frame in text.split('\n').take(MAX_FRAMES) {
        let _ = parse_client_message(frame);
        for socket in &mut sockets {
            match socket.handle_frame(frame, now()) {
                Ok(SocketAction::Listen(request, guard)) => {
                    if let Some(listen) = socket.listens.iter().find(|l| l.id == request.id) {
                        index.add(socket.sid, listen);
                    }
                    // In path order, as the feed's SQL reads them (and a hub's mirror holds them).
                    let mut candidates: Vec<StoredDoc> = stored_docs()
                        .iter()
                        .filter(|d| d.path.collection() == request.target.collection())
                        .cloned()
                        .collect();
                    candidates.sort_by(|a, b| a.path.as_str().cmp(b.path.as_str()));
                    let answer = snapshot(&request, guard.as_ref(), candidates.clone(), HEAD);
                    let _ = answer.to_json();
                    view_holds(socket, &request, guard.as_ref(), &answer, candidates);
                }
                Ok(SocketAction::Unlisten(listen)) => index.remove(socket.sid, &listen),
                Ok(SocketAction::Nothing) => {}
                Err(refusal) => {
                    let _ = refusal.to_json();
                }
            }
        }
    }
    for change in changes() {
        let recipients = index.recipients(&change);
        let kinds: Vec<ChangeKind> = recipients.iter().map(|r| r.kind).collect();
        frame(&change, &kinds);
    }
    let (dropped, refusals) = sockets[1].expire();
    for listen in &dropped {
        index.remove(sockets[1].sid, listen);
    }
    assert_eq!(refusals.len(), dropped.len(), "every ended listen is told so");
    for socket in &sockets {
        let attachment = serde_json::to_string(socket).map_err(|e| e.to_string());
        let woken = attachment.as_deref().map(serde_json::from_str::<SocketState>);
        assert!(
            matches!(&woken, Ok(Ok(state)) if state == socket),
            "a socket's state must survive hibernation: {attachment:?} woke as {woken:?}"
        );
        index.remove_socket(socket);
    }
    assert!(index.is_empty(), "closing every socket leaves no listen indexed");
    assert_eq!(index.sockets_from(CLIENT), 0, "closing every socket leaves no socket counted");
}

/// What a listen's first answer may name: a listen its token reads only through an owner
/// scope never resumes (no `since`, no `removed`) and names only documents it may read;
/// and a hub's mirror of the same documents answers it exactly as the feed does.
fn view_holds(
    socket: &SocketState,
    request: &hookfeed_core::protocol::ListenRequest,
    guard: Option<&hookfeed_core::query::Filter>,
    answer: &hookfeed_core::protocol::ServerMessage,
    candidates: Vec<StoredDoc>,
) {
    let hookfeed_core::protocol::ServerMessage::Snapshot { docs, removed, since, .. } = answer else { return };
    if !socket.claims.resumes(&request.target) {
        assert!(since.is_none() && removed.is_empty(), "an owner's listen resumed: {answer:?}");
        for doc in docs {
            assert!(guard.is_none_or(|g| g.matches(&doc.data)), "{} is not the owner's", doc.path);
        }
    }
    let mut mirror = hookfeed_core::hub::HubMirror::default();
    let collection = request.target.collection().to_owned();
    mirror.streaming(&collection, 0);
    match &request.target {
        hookfeed_core::protocol::Target::Document(path) => {
            let doc = candidates.into_iter().find(|d| d.path == *path);
            mirror.load_document(path, doc, HEAD);
        }
        hookfeed_core::protocol::Target::Collection(_) => {
            mirror.load_collection(&collection, candidates, HEAD);
        }
    }
    let head = mirror.collection(&collection).map_or(HEAD, |m| m.as_of());
    let from_hub = snapshot(request, guard, mirror.snapshot_docs(&request.target), head);
    assert_eq!(from_hub.to_json(), answer.to_json(), "a hub answers as the feed does");
}

// ---------------------------------------------------------------------------------------
// document paths

/// `doc_path`: the bytes as a document path (`GET /docs/{collection}/{id}`, a listen's
/// `doc`), as a collection name, and as a token scope. A path that parses must print back
/// as given and split into parts that rebuild it.
pub fn doc_path(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = check_collection(&text);
    if let Ok(path) = text.parse::<DocPath>() {
        assert_eq!(path.as_str(), text, "a path prints as it was given");
        assert_eq!(DocPath::new(path.collection(), path.id()), Ok(path.clone()), "its parts rebuild it");
        assert_eq!(check_collection(path.collection()), Ok(()));
    }
    if let Some((collection, id)) = text.rsplit_once('/') {
        let _ = DocPath::new(collection, id);
    }
    let _ = serde_json::from_value::<DocPath>(Value::String(text.clone().into_owned()));
    let scoped = claims(&[&text]);
    for doc in stored_docs().iter().take(2) {
        let _ = scoped.allows_document(&doc.path);
    }
    let _ = scoped.allows_collection(&text);
}

// ---------------------------------------------------------------------------------------
// batch hand-offs

/// `batch`: a body as the feed's batch hand-off route reads it (only the edge Worker can
/// send one, but no parser of bytes may panic). Frames that parse are at most
/// [`MAX_BATCH_DELIVERIES`], frame again to the same bytes' frames, and each whose
/// hand-off parses is rebuilt into a delivery of the source it names and ingested, as the
/// feed does.
pub fn batch(data: &[u8]) {
    let Ok(frames) = parse_frames(data) else { return };
    assert!(frames.len() <= MAX_BATCH_DELIVERIES, "a batch holds at most {MAX_BATCH_DELIVERIES} frames");
    let mut again = Vec::with_capacity(data.len());
    for frame in &frames {
        assert!(push_frame(&mut again, frame.handoff, frame.body).is_ok(), "a frame that parsed frames again");
    }
    assert!(parse_frames(&again) == Ok(frames.clone()), "frames read back as framed");
    let mut store = MemoryStore::default();
    for frame in &frames {
        let Ok(handoff) = frame.handoff() else { continue };
        let Some(scheme) = BuiltinScheme::ALL.into_iter().find(|s| s.name() == handoff.source) else { continue };
        let Some(source) = source(scheme, "") else { continue };
        if let Ok(delivery) = VerifiedDelivery::from_handoff(&source, &handoff, frame.body.to_vec()) {
            let _ = ingest(&mut store, &delivery, &source.rules);
        }
    }
}

/// Seeds of `batch`: each scheme's samples handed off as the edge frames them, one per
/// batch and all in one, and cut or garbled frames.
fn batch_seeds() -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    let mut seeds = Vec::new();
    for scheme in BuiltinScheme::ALL {
        for (event_type, body) in samples(scheme) {
            let handoff = Handoff {
                source: scheme.name().to_owned(),
                signed_at: Some(now()),
                received_at: now(),
                event_id: Some("evt_seed".to_owned()),
                event_type: Some(event_type.to_owned()),
                signed_context: None,
            };
            let Ok(handoff) = serde_json::to_vec(&handoff) else { continue };
            let mut one = Vec::new();
            if push_frame(&mut one, &handoff, &body).is_ok() && push_frame(&mut all, &handoff, &body).is_ok() {
                seeds.push(one);
            }
        }
    }
    if let Some(first) = seeds.first().cloned() {
        seeds.push(first[..first.len() / 2].to_vec());
        seeds.push([&first[..], &b"\x00\x00"[..]].concat());
    }
    seeds.push(all);
    seeds.push(vec![0, 0, 0, 2, b'{', b'}', 0, 0, 0, 0]);
    seeds
}

// ---------------------------------------------------------------------------------------
// configuration

/// Events that configured rules may project: ids under several fields, progress, renames.
fn events() -> Vec<Event> {
    let data = json!({
        "project_id": 42, "job_id": "job_1", "object": {"id": "pi_1"}, "userId": "u/1",
        "progress": 57.5, "status": "processing", "video_url": "https://v/1.mp4",
    });
    ["project.completed", "job.processing", "payment_intent.succeeded", "x"]
        .into_iter()
        .map(|event_type| Event {
            source: "fuzz".into(),
            id: "evt_1".into(),
            event_type: event_type.into(),
            created: None,
            data: data.clone(),
        })
        .collect()
}

/// `config`: the first line is every source's secret variable, the second a setting's
/// value (read as both a number and a switch), the rest `HOOKFEED_SOURCES`. Every source
/// that loads projects a few events by its rules.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (secrets, rest) = text.split_once('\n').unwrap_or((&text, ""));
    let (setting, sources) = rest.split_once('\n').unwrap_or((rest, ""));
    let _ = whole_number_setting("HOOKFEED_RETENTION_DAYS", setting).map_err(|e| e.to_string());
    let _ = switch_setting("HOOKFEED_WEBSOCKET_COMPRESSION", setting).map_err(|e| e.to_string());
    for secret in split_secrets(secrets) {
        for scheme in BuiltinScheme::ALL {
            let _ = scheme.parse_secret(secret).map_err(|e| e.to_string());
        }
    }
    let _ = load_identity(sources).map_err(|e| e.to_string());
    match load_sources(sources, &|_| Some(secrets.to_owned())) {
        Ok(sources) => {
            for source in &sources {
                for event in events() {
                    let _ = project(&event, now(), "content", &source.rules);
                }
                round_trip(source);
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// Whatever shape a loaded source's scheme has (a configured `hmac` profile above all),
/// what it signs it verifies, and a body it did not sign it refuses; with garbage in
/// every header it reads, it refuses without a panic.
fn round_trip(source: &Source) {
    const URL: &str = "https://edge.example.com/hooks/fuzz";
    let body = br#"{"id":"evt_1","type":"job.done","created_at":"2024-03-20T10:15:00Z","data":{"job_id":"j"}}"#;
    let input = SigningInput { body, timestamp: now(), event_id: "evt_1", event_type: "job.done" };
    let verifier = source.scheme.implementation();
    let mut headers = match &source.scheme {
        SourceScheme::Hmac(profile) => profile.sign_with_url(&input, URL, &source.secrets),
        SourceScheme::Builtin(_) => verifier.sign(&input, &source.secrets),
    };
    headers.push((URL_HEADER.to_owned(), URL.to_owned()));
    let window = ReplayWindow { now: now(), tolerance_secs: source.tolerance_secs };
    let signed = verifier.verify(&headers, body, &source.secrets, window);
    assert!(signed.is_ok(), "{} must verify what it signs: {headers:?} gave {signed:?}", source.scheme);
    let altered = verifier.verify(&headers, b"{}", &source.secrets, window);
    assert!(altered.is_err(), "{} must refuse a body it did not sign", source.scheme);
    let _ = verify_delivery(source, &headers, body, now());
    let garbage: Vec<(String, String)> =
        verifier.header_names().into_iter().map(|name| (name.to_owned(), "t=1;v1=;,ts= =zz".to_owned())).collect();
    let _ = verify_delivery(source, &garbage, body, now()).map_err(|e| e.to_string());
}

// ---------------------------------------------------------------------------------------
// seeds

/// The inputs a target starts from: the real test vectors in
/// `crates/hookfeed-core/tests/vectors/` (`vectors` is that folder), the samples, and the
/// documented frames, paths and configurations.
pub fn seeds(target: &str, vectors: &Path) -> Vec<Vec<u8>> {
    if target == "delivery" {
        return BuiltinScheme::ALL
            .into_iter()
            .flat_map(|scheme| delivery_seeds(scheme, vectors).into_iter().map(move |seed| scheme_byte(scheme, &seed)))
            .collect();
    }
    if target == "delivery_hmac" {
        // The providers' vectors, and a delivery signed by every preset.
        let mut seeds: Vec<Vec<u8>> = hmac_vectors(vectors)
            .into_iter()
            .map(|v| format_delivery(v.now, &v.secret, &v.headers, v.body.as_bytes()))
            .collect();
        let body = br#"{"id":"evt_seed","type":"job.done","event_id":"evt_seed","event_type":"job.done"}"#;
        let input = SigningInput { body, timestamp: now(), event_id: "evt_seed", event_type: "job.done" };
        for (preset, _) in presets() {
            let Some(source) = hmac_source(&preset, "") else { continue };
            let secret = source.scheme.implementation().example_secret();
            let headers = source.scheme.implementation().sign(&input, &source.secrets);
            seeds.push(format_delivery(NOW, secret, &headers, body));
        }
        return seeds;
    }
    let lines = |items: &[&str]| items.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
    match target {
        "batch" => batch_seeds(),
        "token" => {
            let mut seeds = lines(&["hf1.", "hf1.abc", "a..c", "e30.e30.", "eyJhbGciOiJub25lIn0.e30.", "nonsense"]);
            let granted = claims(&["projects/42", "users/*"]);
            seeds.push(mint_token(&granted, &Secret::from_bytes(TOKEN_SECRET)).into_bytes());
            seeds.push(mint_token(&granted, &Secret::from_bytes("another-secret")).into_bytes());
            seeds.push(serde_json::to_vec(&granted).unwrap_or_default());
            seeds.push(br#"{"tenant":"acme","scopes":["*"],"exp":1}"#.to_vec());
            seeds
        }
        "event_body" => {
            let mut seeds = Vec::new();
            for (scheme, vectors) in vector_files(vectors) {
                seeds.extend(vectors.into_iter().map(|v| scheme_byte(scheme, v.body.as_bytes())));
            }
            for scheme in BuiltinScheme::ALL {
                seeds.extend(samples(scheme).into_iter().map(|(_, body)| scheme_byte(scheme, &body)));
            }
            seeds
        }
        "client_frames" => lines(&[
            r#"{"type":"listen","id":1,"target":{"doc":"projects/projects_1"},"since":17}"#,
            concat!(
                r#"{"type":"listen","id":2,"target":{"collection":"projects","where":[{"field":"status","op":"==","value":"processing"}]}}"#,
                "\n",
                r#"{"type":"unlisten","id":2}"#,
            ),
            r#"{"type":"listen","id":3,"target":{"collection":"projects","orderBy":[{"field":"n","direction":"desc"}],"limit":5}}"#,
            r#"{"type":"listen","id":4,"target":{"collection":"users","where":[{"field":"tags","op":"array-contains-any","value":["a",1]},{"field":"error.code","op":">=","value":1}],"orderBy":[{"field":"status"},{"field":"progress"}]},"since":3}"#,
            r#"{"type":"listen","id":5,"target":{"doc":"users/users_1"}}"#,
            // Resumes of an owner's listens (never a delta), and a since ahead of the feed.
            r#"{"type":"listen","id":6,"target":{"collection":"projects","where":[{"field":"user_id","op":"==","value":"users_1"}]},"since":2}"#,
            r#"{"type":"listen","id":7,"target":{"doc":"projects/projects_2"},"since":1}"#,
            r#"{"type":"listen","id":8,"target":{"doc":"projects/projects_1"},"since":9007199254740991}"#,
        ]),
        "doc_path" => {
            lines(&["projects/42", "users/user_abc123", "projects", "/42", "projects/", "a/..", "a/b/c", "*"])
        }
        "config" => {
            let sources = r#"[
  {"name": "twin-actor", "scheme": "twin-actor", "tenant": "demo"},
  {"name": "percify", "scheme": "percify", "tenant": "demo"},
  {"name": "hooks", "scheme": "standard-webhooks", "tenant": "demo",
   "rules": [{"types": ["job.*"], "collection": "jobs", "id_field": "job_id",
              "status_from_type": true, "progress": true}]}
]"#;
            let hmac = r#"[
  {"name": "shop", "scheme": "hmac", "hmac": "shopify"},
  {"name": "acme", "scheme": "hmac", "tolerance_secs": 60, "tenant": "acme", "hmac": {
     "algorithm": "sha512", "content": "{id}:{timestamp}:{url}:{body}",
     "signature": {"header": "X-Acme-Sig", "encoding": "hex", "prefix": "v2=", "separator": ", "},
     "timestamp": {"header": "X-Acme-Time", "format": "unix_ms"},
     "secret": {"prefix": "acme_", "encoding": "base64"},
     "id": {"header": "X-Acme-Id"}, "type": {"field": ["event", "data.kind"]},
     "created": {"field": "created_at", "format": "rfc3339"}}},
  {"name": "legacy", "scheme": "hmac", "hmac": {"algorithm": "sha1",
     "signature": {"header": "X-Hub-Signature", "prefix": "sha1="},
     "id": {"field": "id"}, "type": {"field": "type"},
     "created": {"field": "created", "format": "unix_ms", "window": true}}}
]"#;
            vec![
                format!("aGVsbG8gaG9va2ZlZWQ=\n7\n{hmac}").into_bytes(),
                format!("twin-actor-demo-secret\n7\n{sources}").into_bytes(),
                format!("whsec_aG9va2ZlZWQtZGVtby1zdGFuZGFyZC13ZWJob29rcy1rZXk=, old\non\n{sources}").into_bytes(),
                br#"s
off
[{"name":"stripe","scheme":"stripe","tolerance_secs":600,"max_body_bytes":10,"rate_limit_per_minute":0,"rules":[{"types":["payment_intent.*"],"collection":"payments","id_field":"object.id","rename":{"status":"state"}}]}]"#
                    .to_vec(),
            ]
        }
        _ => Vec::new(),
    }
}

/// The seeds of one scheme's deliveries: its test vectors, and its samples signed as its
/// provider would, so that some verify and reach the event parser and the log.
pub fn delivery_seeds(scheme: BuiltinScheme, vectors: &Path) -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = vector_files(vectors)
        .into_iter()
        .filter(|(s, _)| *s == scheme)
        .flat_map(|(_, vectors)| vectors)
        .map(|v| format_delivery(v.now, &v.secret, &v.headers, v.body.as_bytes()))
        .collect();
    // The samples, signed as their provider would, so every scheme has seeds that
    // verify and reach the event parser and the log.
    let secret = default_secret(scheme);
    for (event_type, body) in samples(scheme) {
        let input = SigningInput { body: &body, timestamp: now(), event_id: "evt_seed", event_type };
        let Some(source) = source(scheme, secret) else { continue };
        let headers = scheme.implementation().sign(&input, &source.secrets);
        seeds.push(format_delivery(NOW, secret, &headers, &body));
    }
    seeds
}

/// Each sample of `scheme` with its event type, rendered as sent at [`NOW`].
fn samples(scheme: BuiltinScheme) -> Vec<(&'static str, Vec<u8>)> {
    hookfeed_core::samples::event_types(scheme)
        .filter_map(|event_type| {
            let sample = hookfeed_core::samples::sample(scheme, event_type)?;
            Some((event_type, sample.render("evt_seed", now(), &[]).ok()?))
        })
        .collect()
}

fn scheme_byte(scheme: BuiltinScheme, body: &[u8]) -> Vec<u8> {
    let index = BuiltinScheme::ALL.iter().position(|s| *s == scheme).unwrap_or_default();
    let mut seed = vec![u8::try_from(index).unwrap_or_default()];
    seed.extend_from_slice(body);
    seed
}

/// One test vector, as far as the seeds need it.
struct Vector {
    secret: String,
    headers: Vec<(String, String)>,
    body: String,
    now: i64,
}

/// The vectors of every `hmac` vector file (`"scheme": "hmac"`).
fn hmac_vectors(dir: &Path) -> Vec<Vector> {
    read_vector_files(dir).into_iter().filter(|(scheme, _)| scheme == "hmac").flat_map(|(_, v)| v).collect()
}

/// Every vector file's scheme and vectors; files that do not read are skipped (the core
/// test `every_scheme_passes_its_test_vectors` reports those).
fn vector_files(dir: &Path) -> Vec<(BuiltinScheme, Vec<Vector>)> {
    read_vector_files(dir)
        .into_iter()
        .filter_map(|(scheme, vectors)| Some((scheme.parse::<BuiltinScheme>().ok()?, vectors)))
        .collect()
}

/// Every vector file's scheme name and vectors.
fn read_vector_files(dir: &Path) -> Vec<(String, Vec<Vector>)> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    paths.sort();
    let mut files = Vec::new();
    for path in paths.iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
        let Ok(file) = std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).map_err(|e| e.to_string()))
        else {
            continue;
        };
        let Some(scheme) = file["scheme"].as_str().map(str::to_owned) else { continue };
        let vectors = file["vectors"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|v| Vector {
                secret: v["secret"].as_str().unwrap_or_default().to_owned(),
                headers: v["headers"]
                    .as_object()
                    .map(|h| h.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect())
                    .unwrap_or_default(),
                body: v["body"].as_str().unwrap_or_default().to_owned(),
                now: v["now"].as_i64().unwrap_or(NOW),
            })
            .collect();
        files.push((scheme, vectors));
    }
    files
}
