//! `hookfeed deliveries`: the delivery log (`GET /deliveries`), a page at a time or
//! followed live, like `stripe events list` and `stripe listen`'s log.

use std::io::{self, Write};
use std::thread;
use std::time::Duration;

use hookfeed_core::delivery_log::{LogCursor, LogPage, LogRow};

use crate::cli::DeliveriesArgs;
use crate::error::CliError;
use crate::http;
use crate::secrets::{self, Lookup};

/// The variable holding the admin API's bearer token, on the server and here.
pub const ADMIN_TOKEN_VAR: &str = "ADMIN_TOKEN";
const TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `hookfeed deliveries`.
pub fn run(args: &DeliveriesArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let found = secrets::find(
        Lookup {
            flag: args.admin_token.as_deref(),
            flag_env: ADMIN_TOKEN_VAR,
            var: ADMIN_TOKEN_VAR,
            what: "the delivery log",
        },
        &std::env::current_dir().map_err(|source| CliError::Read { path: "the current directory".into(), source })?,
    )?;
    let log = Log { args, token: found.value.trim().to_owned(), agent: http::agent(TIMEOUT)? };
    if args.follow {
        return follow(&log, out);
    }
    let mut before = args.before.clone();
    loop {
        let page = log.page(before.as_deref(), args.limit)?;
        for row in &page.deliveries {
            print_row(row, args.json, out)?;
        }
        match page.next {
            Some(next) if args.all => before = Some(next.to_string()),
            Some(next) => {
                out.flush()?;
                eprintln!("more: hookfeed deliveries --before {next} (or --all)");
                return Ok(());
            }
            None => return Ok(()),
        }
    }
}

/// Prints the newest rows oldest first, then every new row as it arrives, until Ctrl-C.
fn follow(log: &Log<'_>, out: &mut dyn Write) -> Result<(), CliError> {
    let first = log.page(None, log.args.limit)?;
    let mut newest: Option<LogCursor> = first.deliveries.first().map(|r| r.cursor.clone());
    for row in first.deliveries.iter().rev() {
        print_row(row, log.args.json, out)?;
    }
    out.flush()?;
    if !log.args.json {
        eprintln!("following {} (Ctrl-C to stop)", log.url(None, 1));
    }
    loop {
        thread::sleep(Duration::from_millis(log.args.interval_ms));
        // Page back until the newest row already printed: a burst between two polls may
        // be longer than one page.
        let mut fresh: Vec<LogRow> = Vec::new();
        let mut before: Option<String> = None;
        'pages: loop {
            let page = log.page(before.as_deref(), 100)?;
            for row in page.deliveries {
                if newest.as_ref().is_some_and(|newest| row.cursor <= *newest) {
                    break 'pages;
                }
                fresh.push(row);
            }
            match page.next {
                Some(next) => before = Some(next.to_string()),
                None => break,
            }
        }
        if let Some(row) = fresh.first() {
            newest = Some(row.cursor.clone());
        }
        for row in fresh.iter().rev() {
            print_row(row, log.args.json, out)?;
        }
        out.flush()?;
    }
}

struct Log<'a> {
    args: &'a DeliveriesArgs,
    token: String,
    agent: ureq::Agent,
}

impl Log<'_> {
    fn url(&self, before: Option<&str>, limit: usize) -> String {
        let mut url = format!("{}/deliveries?limit={limit}", self.args.url.trim_end_matches('/'));
        let filters = [
            ("tenant", self.args.tenant.as_deref()),
            ("source", self.args.source.as_deref()),
            ("outcome", self.args.outcome.as_deref()),
            ("event_id", self.args.event_id.as_deref()),
            ("before", before),
        ];
        for (name, value) in filters {
            if let Some(value) = value {
                url.push_str(&format!("&{name}={}", encode(value)));
            }
        }
        url
    }

    fn page(&self, before: Option<&str>, limit: usize) -> Result<LogPage, CliError> {
        let url = self.url(before, limit);
        let failed = |error: ureq::Error| match error {
            ureq::Error::Io(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                CliError::Unreachable { url: self.args.url.trim_end_matches('/').to_owned() }
            }
            ureq::Error::ConnectionFailed => {
                CliError::Unreachable { url: self.args.url.trim_end_matches('/').to_owned() }
            }
            other => CliError::Http { url: url.clone(), reason: other.to_string() },
        };
        let response = self
            .agent
            .get(&url)
            .header("User-Agent", concat!("hookfeed-cli/", env!("CARGO_PKG_VERSION")))
            .header("Authorization", &format!("Bearer {}", self.token))
            .call()
            .map_err(failed)?;
        let status = response.status();
        let body = response.into_body().read_to_vec().map_err(failed)?;
        if !status.is_success() {
            let message = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            let hint = match status.as_u16() {
                401 => format!(": {message} (pass the server's ADMIN_TOKEN with --admin-token or $ADMIN_TOKEN)"),
                _ => format!(": {message}"),
            };
            return Err(CliError::Rejected { status: status.to_string(), hint });
        }
        serde_json::from_slice(&body)
            .map_err(|e| CliError::Http { url, reason: format!("the answer is not a page of the delivery log: {e}") })
    }
}

/// Percent-encodes a query value (cursors, event ids and source names are plain, but a
/// value from the command line may hold anything).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One row: a JSON line, or aligned columns for people.
fn print_row(row: &LogRow, json: bool, out: &mut dyn Write) -> Result<(), CliError> {
    if json {
        writeln!(out, "{}", serde_json::to_string(row).unwrap_or_default())?;
        return Ok(());
    }
    let what = match (&row.event_type, &row.event_id) {
        (Some(t), Some(id)) => format!("{t} {id}"),
        _ => row.code.clone().unwrap_or_default(),
    };
    writeln!(
        out,
        "{}  {:<16} {:<12} {}  {:<40} {}",
        row.at,
        row.source,
        row.outcome.as_str(),
        row.status,
        what,
        row.message.as_deref().unwrap_or_default()
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use hookfeed_core::delivery_log::LogOutcome;

    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode("5.e000000000042"), "5.e000000000042");
        assert_eq!(encode("evt 1&x=2"), "evt%201%26x%3D2");
    }

    #[test]
    fn a_row_prints_its_outcome_and_reason() {
        let row = LogRow {
            cursor: LogCursor::refusal(1, 1),
            at: "2026-11-30T07:00:00Z".into(),
            source: "twin-actor".into(),
            outcome: LogOutcome::Rejected,
            status: 401,
            event_type: None,
            event_id: None,
            code: Some("signature_mismatch".into()),
            message: Some("no signature matched".into()),
            client: Some("203.0.113.9".into()),
            seq: None,
        };
        let mut out = Vec::new();
        print_row(&row, false, &mut out).expect("printed");
        let line = String::from_utf8(out).expect("utf-8");
        assert!(
            line.contains("rejected") && line.contains("signature_mismatch") && line.contains("no signature matched")
        );
    }
}
