//! `hookfeed tail`: subscribe to a feed over WebSocket and print its changes as they
//! happen, reconnecting and resuming (`since`) when the connection drops.
//!
//! Frames are built and read with core's protocol types, so the wire format is core's.
//! [`targets`](mod@targets) says what to watch, [`auth`] which token each connection presents,
//! [`session`] runs the connections and [`render`] prints what they deliver.

mod auth;
mod render;
mod session;
mod targets;

use std::io::Write;
use std::time::{Duration, Instant};

use hookfeed_core::protocol::ListenRequest;

use crate::cli::TailArgs;
use crate::clock;
use crate::error::CliError;
use crate::http;
use crate::socket;
use crate::token::signing_secret;

use self::auth::{tenant_to_mint, Token};
use self::session::{Listening, Tail};
use self::targets::{label, scope_of, targets};

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
    Tail::new(args, out, offset, listens, deadline).follow(&feed, &token)
}
