//! `GET /docs/{collection}[/{id}]`: the current documents, for clients that poll, read
//! through the subscriber token's scopes as a listen would be.

use hookfeed_core::path::{check_collection, DocPath};
use hookfeed_core::query::Filter;
use worker::{Env, Request, Result, Url};

use super::extract::subscriber;
use super::{forward_get, Handled};
use crate::config::Config;
use crate::hop::GUARD_PARAM;
use crate::reply::Reply;

/// One document (`id`) or a whole collection, as the token may read it.
pub async fn documents(req: Request, env: &Env, config: &Config, collection: &str, id: Option<&str>) -> Handled {
    let claims = subscriber(&req, config).await?;
    let mut url = Url::parse("https://feed/docs")?;
    let guard = match id {
        Some(id) => {
            let path = DocPath::new(collection, id).map_err(|e| Reply::BadRequest(e.to_string()))?;
            let guard = claims.authorize_document(&path).map_err(Reply::Token)?;
            url.query_pairs_mut().append_pair("path", path.as_str());
            guard
        }
        None => {
            check_collection(collection).map_err(|e| Reply::BadRequest(e.to_string()))?;
            let guard = claims.authorize_collection(collection).map_err(Reply::Token)?;
            url.query_pairs_mut().append_pair("collection", collection);
            guard
        }
    };
    append_guard(&mut url, guard)?;
    Ok(forward_get(env, &claims.tenant, url.as_str()).await?)
}

/// Tells the feed the owner condition a token reads `GET /docs` under, if any: the
/// feed answers only with documents that meet it (a document that does not is not found).
fn append_guard(url: &mut Url, guard: Option<Filter>) -> Result<()> {
    if let Some(guard) = guard {
        url.query_pairs_mut().append_pair(GUARD_PARAM, &serde_json::to_string(&guard)?);
    }
    Ok(())
}
