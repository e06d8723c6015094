//! The `Feed` Durable Object: one per tenant, holding its log and documents in SQLite.
// `#[durable_object]` generates undocumented glue; the items written here are documented.
#![allow(missing_docs)]

use serde::Serialize;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

/// The tables a feed keeps. Created on first use; `IF NOT EXISTS` keeps it idempotent.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    ordered_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    digest TEXT NOT NULL,
    raw BLOB NOT NULL,
    path TEXT,
    UNIQUE (source, event_id)
);
CREATE TABLE IF NOT EXISTS documents (
    path TEXT PRIMARY KEY,
    collection TEXT NOT NULL,
    data TEXT NOT NULL,
    clocks TEXT NOT NULL,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_by_collection ON documents (collection, seq);
";

/// One tenant's feed.
#[durable_object]
pub struct Feed {
    state: State,
}

#[derive(Serialize)]
struct FeedHealth {
    events: i64,
    documents: i64,
    database_bytes: usize,
}

#[derive(serde::Deserialize)]
struct Count {
    n: i64,
}

impl Feed {
    fn count(&self, table: &str) -> Result<i64> {
        let rows: Vec<Count> = self.state.storage().sql().exec(&format!("SELECT count(*) AS n FROM {table}"), None)?.to_array()?;
        Ok(rows.first().map_or(0, |r| r.n))
    }
}

impl DurableObject for Feed {
    fn new(state: State, _env: Env) -> Self {
        Self { state }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let sql = self.state.storage().sql();
        sql.exec(SCHEMA, None)?;
        match req.path().as_str() {
            "/health" => Response::from_json(&FeedHealth {
                events: self.count("events")?,
                documents: self.count("documents")?,
                database_bytes: sql.database_size(),
            }),
            _ => Response::error("not found", 404),
        }
    }
}
