//! Everything that can stop a command; every message says what to do about it.

use std::io;

use hookfeed_core::samples::SampleError;
use hookfeed_core::signature::SecretError;
use hookfeed_core::BuiltinScheme;

/// Why a command failed. `main` prints `error: <message>` and exits with status 1.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// `send --source NAME` where NAME is not a scheme name, without `--scheme`.
    #[error("source `{source_name}` is not a scheme name, so pass --scheme (one of {})", BuiltinScheme::names())]
    SchemeRequired {
        /// The source given.
        source_name: String,
    },
    /// `sign` with neither `--scheme` nor a `--source` named after a scheme.
    #[error("pass --scheme to say how to sign (one of {})", BuiltinScheme::names())]
    SchemeMissing,
    /// A source name that cannot be a source (it goes into the URL path).
    #[error("source name `{0}` is not valid: use 1-64 of a-z 0-9 - _ (the name in POST /hooks/{{source}})")]
    BadSourceName(String),
    /// `send` without `--event` or `--body`.
    #[error("pass --event with one of {scheme}'s types: {known} (or send a file with --body)")]
    EventRequired {
        /// The scheme.
        scheme: BuiltinScheme,
        /// Its known types, comma-separated.
        known: String,
    },
    /// `--event` names no sample of the scheme.
    #[error(
        "unknown event type `{event}` for {scheme}: known types are {known} (`hookfeed events` lists every scheme's)"
    )]
    UnknownEvent {
        /// The type given.
        event: String,
        /// The scheme.
        scheme: BuiltinScheme,
        /// Its known types, comma-separated.
        known: String,
    },
    /// `--set` together with `--body`.
    #[error("--set fills in the built-in samples, not --body: edit the file instead, or drop --body")]
    SetWithBody,
    /// `--stale` for percify with `--body`: staleness lives in the body.
    #[error("--stale for percify moves the body's `created` 48 h back, which needs a built-in sample: drop --body, or write an old `created` into the file")]
    StaleWithPercifyBody,
    /// `send --id` again, after the scheme's window on the body's time has passed.
    #[error(
        "{event_id} was first sent {age_hours} h ago, and {scheme} refuses a body whose creation time is older than \
         {window_hours} h (its replay window), as it would the provider's own retry: send it under a new --id"
    )]
    ResendOutsideWindow {
        /// The id given.
        event_id: String,
        /// The scheme.
        scheme: BuiltinScheme,
        /// How long ago it was first sent, in whole hours.
        age_hours: i64,
        /// The scheme's default window, in whole hours.
        window_hours: u64,
    },
    /// A `--set` path runs through a non-object.
    #[error("--set: {0}")]
    Override(#[from] SampleError),
    /// A file could not be read.
    #[error("cannot read {path}: {source} (check the path; `-` reads stdin)")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: io::Error,
    },
    /// No secret anywhere.
    #[error("no secret for {what}: pass --secret, set {flag_env} or {var}, or add {var}=… to .dev.vars (looked for {var} in the environment, {dir}/.dev.vars and {dir}/.dev.vars.example)")]
    MissingSecret {
        /// What needs the secret (`source \`twin-actor\``).
        what: String,
        /// The variable holding it.
        var: String,
        /// The variable `--secret` reads.
        flag_env: &'static str,
        /// The directory searched.
        dir: String,
    },
    /// A secret that the scheme cannot use.
    #[error("the secret from {origin} is unusable for {scheme}: {error} (fix it there, or pass --secret)")]
    BadSecret {
        /// Where it came from.
        origin: String,
        /// The scheme.
        scheme: BuiltinScheme,
        /// Why.
        error: SecretError,
    },
    /// A `.dev.vars` line that is not `KEY=value`.
    #[error("{file}:{line}: expected KEY=value or KEY=\"value\" (lines starting with # are comments)")]
    BadVarsLine {
        /// The file.
        file: String,
        /// The 1-based line number.
        line: usize,
    },
    /// The URL is not http:// or https://.
    #[error("`{0}` is not an http:// or https:// URL: pass the server's address, e.g. --url http://127.0.0.1:8787")]
    UnsupportedUrl(String),
    /// `SSL_CERT_FILE` names a file that gives no certificates.
    #[error("cannot use the certificates in {path} (SSL_CERT_FILE): {reason}")]
    CertFile {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Nothing accepted the connection.
    #[error("could not reach {url}: is `npm run dev` running?")]
    Unreachable {
        /// The server's URL.
        url: String,
    },
    /// The request failed after connecting (or could not be built).
    #[error("request to {url} failed: {reason}")]
    Http {
        /// The request's URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The server answered, but not with 2xx (the response is printed first).
    #[error("the server answered {status}{hint}")]
    Rejected {
        /// Status code and reason phrase.
        status: String,
        /// What that status usually means here, starting with `: `.
        hint: String,
    },
    /// `token` without `--scope`.
    #[error(
        "pass at least one --scope or --owner: --scope projects/42 (one document), --scope 'projects/*' (a collection), --scope '*' (everything), or --owner projects=user_id --sub <user id>"
    )]
    ScopeRequired,
    /// `send --hmac` with a profile that cannot sign.
    #[error("--hmac `{given}` cannot sign: {reason}")]
    BadProfile {
        /// The preset or profile given.
        given: String,
        /// Why.
        reason: String,
    },
    /// An owner scope that is not `collection=field`.
    #[error("owner scope `{given}` is not valid ({reason}): use collection=field, like projects=user_id")]
    BadOwner {
        /// The owner scope given.
        given: String,
        /// Why.
        reason: String,
    },
    /// Owner scopes without a subject would grant nothing.
    #[error("--owner needs --sub: the user id the owner field must equal")]
    OwnerWithoutSub,
    /// A scope that is no path, collection or `*`.
    #[error("scope `{scope}` is not valid ({reason}): use collection/id, collection/* or *")]
    BadScope {
        /// The scope given.
        scope: String,
        /// Why.
        reason: String,
    },
    /// `tail --url` that is no http(s):// or ws(s):// URL.
    #[error("`{0}` is not an http://, https://, ws:// or wss:// URL: pass the server's address, e.g. --url http://127.0.0.1:8787")]
    BadFeedUrl(String),
    /// The first WebSocket connection failed after reaching the server.
    #[error("could not open the feed at {url}: {reason} (is {url} a hookfeed server? `npm run dev` serves one at ws://127.0.0.1:8787/feed)")]
    FeedConnect {
        /// The feed's ws:// URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The server answered the WebSocket upgrade with an HTTP error.
    #[error("the server feeds tenants {}: pass --tenant with the one to watch", .0.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", "))]
    TenantRequired(Vec<String>),

    #[error("the server refused the WebSocket with {status}: {message}{hint}")]
    FeedRefused {
        /// Status code and reason phrase.
        status: String,
        /// The server's message (its `error.code: error.message`), or the body.
        message: String,
        /// What to do, starting with `: ` or `; `.
        hint: String,
    },
    /// Every listen of `tail` was refused with an error frame.
    #[error("every listen was refused (last: {code}: {message}){hint}")]
    ListensRefused {
        /// The last error's code (`permission-denied`).
        code: String,
        /// The last error's message.
        message: String,
        /// What to do, starting with `: `.
        hint: String,
    },
    /// The feed refused the connection itself with an error frame (no listen id).
    #[error("the feed refused the connection ({code}: {message}){hint}")]
    FeedError {
        /// The error's code.
        code: String,
        /// The error's message.
        message: String,
        /// What to do, starting with `: `.
        hint: String,
    },
    /// `tail --timeout` passed before `--max-events` changes arrived.
    #[error("timed out after {secs} s with {seen} of {wanted} changes: raise --timeout, or check that deliveries reach the feed (`hookfeed send`)")]
    TailTimedOut {
        /// The timeout, in seconds.
        secs: String,
        /// Changes seen.
        seen: u64,
        /// Changes wanted (--max-events).
        wanted: u64,
    },
    /// The system clock reads before 1970.
    #[error("the system clock reads before 1970: set the clock")]
    Clock,
    /// Writing to stdout failed.
    #[error("cannot write output: {0}")]
    Output(io::Error),
}

impl From<io::Error> for CliError {
    fn from(error: io::Error) -> Self {
        Self::Output(error)
    }
}
