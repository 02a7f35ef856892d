//! Message search: the request checked and parsed by `confab_core::rules::search`, the store's
//! hits turned into results with snippets and the cursor for the next page.

use confab_core::rules::search;
use confab_core::store::SearchRequest;
use confab_core::{Error, Result};
use confab_proto::{SearchResponse, SearchResult};
use std::time::Duration;

use super::messages::{rate_limited, Messages};

/// A search as the REST API receives it.
#[derive(Debug, Default)]
pub(crate) struct SearchParams {
    pub q: String,
    pub conversation_id: Option<String>,
    pub sender_id: Option<String>,
    pub before: Option<i64>,
    pub after: Option<i64>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl Messages {
    /// `viewer`'s search (see `SearchStore` for what is searched). The request is checked first,
    /// then the viewer's rate (`RATE_LIMITED`), so a malformed request costs no search.
    pub(crate) async fn search(&self, viewer: &str, params: SearchParams) -> Result<SearchResponse> {
        let query = search::parse(&params.q)?;
        let limit = search::limit(params.limit)?;
        let after_key =
            params.cursor.as_deref().filter(|c| !c.is_empty()).map(search::decode_cursor).transpose()?;
        self.searches.check_key(&viewer.to_string()).map_err(|wait| {
            metrics::counter!("confab_searches_throttled_total").increment(1);
            rate_limited(wait)
        })?;
        let request = SearchRequest {
            user: viewer.to_string(),
            query: query.clone(),
            conversation_id: params.conversation_id.filter(|c| !c.is_empty()),
            sender_id: params.sender_id.filter(|s| !s.is_empty()),
            before: params.before,
            after: params.after,
            after_key,
            // One more than asked tells whether there is a next page.
            limit: limit + 1,
            time_limit: self.limits.search_timeout_ms.map(Duration::from_millis),
        };
        let mut hits = self.store.search_messages(request).await.inspect_err(|e| {
            if matches!(e, Error::SearchTooBroad { .. }) {
                metrics::counter!("confab_searches_timed_out_total").increment(1);
            }
        })?;
        let more = hits.len() > limit as usize;
        hits.truncate(limit as usize);
        let next_cursor = if more { hits.last().map(|h| search::encode_cursor(&h.key)) } else { None };
        let results = hits
            .into_iter()
            .map(|h| {
                let snippet = search::snippet(&query, h.message.content.text().unwrap_or_default());
                SearchResult { message: h.message, snippet }
            })
            .collect();
        Ok(SearchResponse { results, next_cursor })
    }
}
