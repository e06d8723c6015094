//! `hookfeed sign`: the headers a provider would send with a body, one `Name: value` line each.

use std::io::Write;

use hookfeed_core::source::secret_var;
use hookfeed_core::UnixTime;

use crate::cli::SignArgs;
use crate::clock;
use crate::error::CliError;
use crate::outgoing::{self, check_source_name, resolve_scheme};
use crate::secrets::{self, Lookup};

/// Runs `hookfeed sign`.
pub fn run(args: &SignArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let scheme = match (args.scheme, args.source.as_deref()) {
        (None, None) => return Err(CliError::SchemeMissing),
        (scheme, Some(source)) => resolve_scheme(scheme, source)?,
        (Some(scheme), None) => scheme,
    };
    let source = args.source.clone().unwrap_or_else(|| scheme.name().to_owned());
    check_source_name(&source)?;
    let found = secrets::find(
        Lookup {
            flag: args.secret.as_deref(),
            flag_env: "HOOKFEED_SECRET",
            var: &secret_var(&source),
            what: &format!("source `{source}`"),
        },
        &std::env::current_dir().map_err(|source| CliError::Read { path: "the current directory".into(), source })?,
    )?;
    let secrets = secrets::parse_for_scheme(&found, scheme)?;
    let body = outgoing::read_body(args.file.as_deref())?;
    let timestamp = match args.timestamp {
        Some(secs) => UnixTime::from_secs(secs),
        None => clock::now()?,
    };
    let event_id =
        args.id.clone().or_else(|| outgoing::body_event_id(scheme, &body)).unwrap_or_else(clock::fresh_event_id);
    let event_type =
        args.event.clone().or_else(|| outgoing::body_event_type(scheme, &body)).unwrap_or_else(|| "test".to_owned());
    for (name, value) in outgoing::sign(scheme, &body, timestamp, &event_id, &event_type, &secrets) {
        writeln!(out, "{name}: {value}")?;
    }
    Ok(())
}
