//! `hookfeed events`: the known event types, from core's samples.

use std::io::Write;

use hookfeed_core::samples::event_types;
use hookfeed_core::BuiltinScheme;

use crate::cli::EventsArgs;
use crate::error::CliError;

/// Runs `hookfeed events`: one scheme's types one per line, or every scheme's grouped.
pub fn run(args: &EventsArgs, out: &mut dyn Write) -> Result<(), CliError> {
    if let Some(scheme) = args.scheme {
        for event_type in event_types(scheme) {
            writeln!(out, "{event_type}")?;
        }
        return Ok(());
    }
    for (index, scheme) in BuiltinScheme::ALL.into_iter().enumerate() {
        if index > 0 {
            writeln!(out)?;
        }
        writeln!(out, "{scheme}:")?;
        for event_type in event_types(scheme) {
            writeln!(out, "  {event_type}")?;
        }
    }
    Ok(())
}
