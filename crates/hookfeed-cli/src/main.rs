//! `hookfeed`: sign and send test deliveries of every known event type, mint subscriber
//! tokens, tail a feed, list event types.
//!
//! The CLI is the only native caller that reads a clock and the environment; every decision
//! (signing, samples, tokens) is hookfeed-core's. Errors print as `error: <message>` on
//! stderr and exit with status 1.

mod cli;
mod clock;
mod deliveries;
mod error;
mod events;
mod http;
mod outgoing;
mod secrets;
mod send;
mod sent;
mod sign;
mod socket;
mod tail;
mod tls;
mod token;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::CliError;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // `--help` and `--version` print and succeed; usage errors print `error: …`
            // and, like every other error here, exit with 1.
            let _ = error.print();
            return if error.use_stderr() { ExitCode::FAILURE } else { ExitCode::SUCCESS };
        }
    };
    let mut stdout = io::stdout().lock();
    let result = match cli.command {
        Command::Send(args) => send::run(&args, &mut stdout),
        Command::Sign(args) => sign::run(&args, &mut stdout),
        Command::Token(args) => token::run(&args, &mut stdout),
        Command::Tail(args) => tail::run(&args, &mut stdout),
        Command::Events(args) => events::run(&args, &mut stdout),
        Command::Deliveries(args) => deliveries::run(&args, &mut stdout),
    };
    let result = result.and_then(|()| stdout.flush().map_err(CliError::Output));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `hookfeed events | head -1`: the reader left, nothing to report.
        Err(CliError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
