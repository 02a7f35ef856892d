//! Message search (`GET /api/v1/search/messages`) as a builder: [`Client::search`].

use confab_proto::SearchResponse;

use crate::admin::query;
use crate::{Client, Result};

/// One search page being asked for; [`MessageSearch::send`] runs it.
///
/// ```no_run
/// # async fn demo(alice: confab_client::Client) -> Result<(), confab_client::ClientError> {
/// let page = alice.search("\"launch plan\" budg*").in_conversation("c1").limit(10).send().await?;
/// if let Some(cursor) = page.next_cursor {
///     let next = alice.search("\"launch plan\" budg*").in_conversation("c1").cursor(&cursor).send().await?;
/// #   let _ = next;
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
#[must_use = "a search does nothing until sent"]
pub struct MessageSearch<'a> {
    client: &'a Client,
    q: String,
    conversation_id: Option<String>,
    sender_id: Option<String>,
    before: Option<i64>,
    after: Option<i64>,
    limit: Option<u32>,
    cursor: Option<String>,
}

impl Client {
    /// Searches the caller's conversations for `q` (words, `prefix*`, `"phrases"`).
    pub fn search(&self, q: &str) -> MessageSearch<'_> {
        MessageSearch {
            client: self,
            q: q.to_string(),
            conversation_id: None,
            sender_id: None,
            before: None,
            after: None,
            limit: None,
            cursor: None,
        }
    }
}

impl MessageSearch<'_> {
    /// Only this conversation.
    pub fn in_conversation(mut self, conversation_id: &str) -> Self {
        self.conversation_id = Some(conversation_id.to_string());
        self
    }

    /// Only this user's messages.
    pub fn from_sender(mut self, user_id: &str) -> Self {
        self.sender_id = Some(user_id.to_string());
        self
    }

    /// Only messages created before this time (ms since the epoch, exclusive).
    pub fn before(mut self, at: i64) -> Self {
        self.before = Some(at);
        self
    }

    /// Only messages created after this time (ms since the epoch, exclusive).
    pub fn after(mut self, at: i64) -> Self {
        self.after = Some(at);
        self
    }

    /// At most this many results (1–100; the server's default is 20).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// The page after the one that returned this `nextCursor`.
    pub fn cursor(mut self, cursor: &str) -> Self {
        self.cursor = Some(cursor.to_string());
        self
    }

    /// The path and query this search requests.
    pub fn path(&self) -> String {
        let q = query(&[
            ("q", Some(self.q.clone())),
            ("conversationId", self.conversation_id.clone()),
            ("senderId", self.sender_id.clone()),
            ("before", self.before.map(|v| v.to_string())),
            ("after", self.after.map(|v| v.to_string())),
            ("limit", self.limit.map(|v| v.to_string())),
            ("cursor", self.cursor.clone()),
        ]);
        format!("/api/v1/search/messages{q}")
    }

    pub async fn send(self) -> Result<SearchResponse> {
        self.client.get(&self.path()).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_value_is_encoded() {
        let client = crate::Client::new("http://x");
        let path = client.search("a&b=\"c\" é*").in_conversation("c 1").limit(5).path();
        assert_eq!(
            path,
            "/api/v1/search/messages?q=a%26b%3D%22c%22%20%C3%A9%2A&conversationId=c%201&limit=5"
        );
    }
}
