//! Reporting messages, and the server administrators' API (`/api/v1/admin`), as more methods of
//! [`Client`]. Administrators' calls answer `403 FORBIDDEN` to anyone else.

use confab_proto::{
    AdminStats, AdminUsersResponse, Ban, BanRequest, Report, ReportReceipt, ReportRequest, ReportStatus,
    ReportsResponse, ResolveReportRequest, UserSessionsResponse,
};
use reqwest::{Method, StatusCode};

use crate::{Client, Result};

/// Percent-encodes a query or path value (ids and usernames are printable ASCII, but a search
/// may hold anything).
pub(crate) fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `?a=1&b=2` from the pairs that have a value.
pub(crate) fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> =
        pairs.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v)))).collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

impl Client {
    /// Reports a message of a conversation the caller is in (`conversation_id` narrows which,
    /// when several senders used the same `messageId`); `true` when the report is new, `false`
    /// when the caller had reported it already.
    pub async fn report(
        &self,
        message_id: &str,
        reason: &str,
        conversation_id: Option<&str>,
    ) -> Result<(ReportReceipt, bool)> {
        let body = ReportRequest {
            message_id: message_id.into(),
            reason: reason.into(),
            conversation_id: conversation_id.map(Into::into),
        };
        let (status, receipt) = self.post("/api/v1/reports", &body).await?;
        Ok((receipt, status == StatusCode::CREATED))
    }

    /// Users whose username starts with `query` (every user for `""`), after username `cursor`.
    pub async fn admin_users(
        &self,
        query_prefix: &str,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<AdminUsersResponse> {
        let q = query(&[
            ("query", Some(query_prefix.to_string())),
            ("cursor", cursor.map(Into::into)),
            ("limit", limit.map(|l| l.to_string())),
        ]);
        self.get(&format!("/api/v1/admin/users{q}")).await
    }

    /// Bans a user, until `until` (ms since the epoch) or until unbanned.
    pub async fn ban(&self, user_id: &str, reason: &str, until: Option<i64>) -> Result<Ban> {
        let body = BanRequest { reason: reason.into(), until };
        let path = format!("/api/v1/admin/users/{}/ban", encode(user_id));
        Ok(self.call(Method::PUT, &path, Some(&body)).await?.1)
    }

    pub async fn unban(&self, user_id: &str) -> Result<()> {
        let path = format!("/api/v1/admin/users/{}/ban", encode(user_id));
        self.call::<(), serde_json::Value>(Method::DELETE, &path, None).await.map(|_| ())
    }

    /// Reports with `status`, after report `cursor`.
    pub async fn admin_reports(
        &self,
        status: ReportStatus,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<ReportsResponse> {
        let q = query(&[
            ("status", Some(status.as_str().to_string())),
            ("cursor", cursor.map(Into::into)),
            ("limit", limit.map(|l| l.to_string())),
        ]);
        self.get(&format!("/api/v1/admin/reports{q}")).await
    }

    pub async fn resolve_report(&self, report_id: &str, resolution: &str) -> Result<Report> {
        let body = ResolveReportRequest { resolution: resolution.into() };
        Ok(self.post(&format!("/api/v1/admin/reports/{}/resolve", encode(report_id)), &body).await?.1)
    }

    /// A user's presence across the cluster and connections on the node that answers.
    pub async fn user_sessions(&self, user_id: &str) -> Result<UserSessionsResponse> {
        self.get(&format!("/api/v1/admin/users/{}/sessions", encode(user_id))).await
    }

    /// Revokes every token of the user; their sockets close with `4003` on every node.
    pub async fn close_sessions(&self, user_id: &str) -> Result<()> {
        let path = format!("/api/v1/admin/users/{}/sessions", encode(user_id));
        self.call::<(), serde_json::Value>(Method::DELETE, &path, None).await.map(|_| ())
    }

    /// Revokes one token of the user, by its session id.
    pub async fn close_session(&self, user_id: &str, session_id: &str) -> Result<()> {
        let path = format!("/api/v1/admin/users/{}/sessions/{}", encode(user_id), encode(session_id));
        self.call::<(), serde_json::Value>(Method::DELETE, &path, None).await.map(|_| ())
    }

    pub async fn admin_stats(&self) -> Result<AdminStats> {
        self.get("/api/v1/admin/stats").await
    }

    /// Deletes any message for everyone (in any conversation); the tombstone. `sender_id` picks
    /// the sender's message when several share the id.
    pub async fn admin_delete_message(
        &self,
        conversation_id: &str,
        message_id: &str,
        sender_id: Option<&str>,
    ) -> Result<confab_proto::Message> {
        let path = format!(
            "/api/v1/admin/conversations/{}/messages/{}{}",
            encode(conversation_id),
            encode(message_id),
            query(&[("senderId", sender_id.map(str::to_string))])
        );
        Ok(self.call::<(), confab_proto::Message>(Method::DELETE, &path, None).await?.1)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_are_percent_encoded() {
        assert_eq!(super::encode("a b&c/é"), "a%20b%26c%2F%C3%A9");
        assert_eq!(super::query(&[("a", Some("1".into())), ("b", None)]), "?a=1");
        assert_eq!(super::query(&[("b", None)]), "");
    }
}
