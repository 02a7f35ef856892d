//! The REST API, one method per endpoint.

use confab_proto::{
    AddMembersRequest, AuthResponse, ChangePasswordRequest, Conversation, ConversationType,
    ConversationsResponse, CreateConversationRequest, CreateGroupRequest, EditMessageRequest, ErrorBody,
    GroupSettings, HistoryResponse, LoginRequest, Message, MessageAck, Profile, ReadRequest, ReadResponse,
    RegisterRequest, RegistrationInfo, SendMessageRequest, SyncRequest, SyncResponse, UpdateProfileRequest,
    User, UsersResponse,
};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{ClientError, Result};

/// `/api/v1/conversations/{id}/messages/{messageId}[/more…]`, each segment percent-encoded (an
/// emoji, a `messageId` with `/` or `?`).
fn message_path(conversation_id: &str, message_id: &str, more: &[&str]) -> String {
    let mut path =
        format!("/api/v1/conversations/{}/messages/{}", encode(conversation_id), encode(message_id));
    for segment in more {
        path.push('/');
        path.push_str(&encode(segment));
    }
    path
}

/// Every byte but the unreserved ones (RFC 3986) as `%XX`, so the server gets the segment back
/// exactly (URL parsers drop tabs and newlines that are not encoded).
pub(crate) fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn with_sender(path: String, sender_id: Option<&str>) -> String {
    match sender_id {
        Some(sender) => {
            let query: String = reqwest::Url::parse_with_params("http://x/", [("senderId", sender)])
                .map(|u| u.query().unwrap_or_default().to_string())
                .unwrap_or_default();
            format!("{path}?{query}")
        }
        None => path,
    }
}

/// The error a failed response's body describes.
pub(crate) fn api_error(status: StatusCode, bytes: &[u8]) -> ClientError {
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(body) => ClientError::Api { status: status.as_u16(), body },
        Err(e) => ClientError::Protocol(format!("{status} with a body that is not a protocol error: {e}")),
    }
}

/// A REST client for one server, optionally authenticated.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    /// `base` is the server's root, e.g. `http://127.0.0.1:8080` or `https://chat.example.com`
    /// (a certificate the system trusts).
    pub fn new(base: &str) -> Client {
        Client { http: reqwest::Client::new(), base: base.trim_end_matches('/').to_string(), token: None }
    }

    /// A client for an `https://` server whose certificate `roots` vouch for (besides the
    /// system's roots): a private CA, or a self-signed certificate.
    pub fn with_roots(base: &str, roots: &crate::Roots) -> Result<Client> {
        let mut builder = reqwest::Client::builder().use_rustls_tls();
        for certificate in roots.reqwest_certificates()? {
            builder = builder.add_root_certificate(certificate);
        }
        let http = builder.build()?;
        Ok(Client { http, base: base.trim_end_matches('/').to_string(), token: None })
    }

    /// The same client, sending `token` as its bearer token (sharing the connection pool).
    pub fn with_token(&self, token: &str) -> Client {
        Client { http: self.http.clone(), base: self.base.clone(), token: Some(token.to_string()) }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Sends a request and returns the status and the raw JSON body (`null` for an empty body),
    /// whatever the status. For callers that want to look at errors themselves.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<(u16, serde_json::Value)> {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await?;
        let value = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .map_err(|e| ClientError::Protocol(format!("body is not JSON: {e}")))?
        };
        Ok((status, value))
    }

    /// A request to `path` with this client's token.
    pub(crate) fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let req = self.http.request(method, format!("{}{}", self.base, path));
        match &self.token {
            Some(token) => req.bearer_auth(token),
            None => req,
        }
    }

    pub(crate) async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<(StatusCode, T)> {
        let mut req = self.request(method, path);
        if let Some(body) = body {
            req = req.json(body);
        }
        self.answer(req).await
    }

    /// Sends `req` and reads its JSON answer, or the protocol error.
    pub(crate) async fn answer<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<(StatusCode, T)> {
        let resp = req.send().await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if !status.is_success() {
            return Err(api_error(status, &bytes));
        }
        let bytes = if bytes.is_empty() { &b"null"[..] } else { &bytes[..] };
        let value = serde_json::from_slice(bytes)
            .map_err(|e| ClientError::Protocol(format!("unexpected body: {e}")))?;
        Ok((status, value))
    }

    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        Ok(self.call::<(), T>(Method::GET, path, None).await?.1)
    }

    pub(crate) async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<(StatusCode, T)> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn register(
        &self,
        username: &str,
        password: &str,
        display_name: Option<&str>,
    ) -> Result<AuthResponse> {
        let body = RegisterRequest {
            username: username.into(),
            password: password.into(),
            display_name: display_name.map(Into::into),
            invite_code: None,
        };
        self.register_with(&body).await
    }

    /// Registers with every field of the request (an invite code, on a server that registers by
    /// invite only).
    pub async fn register_with(&self, body: &RegisterRequest) -> Result<AuthResponse> {
        Ok(self.post("/api/v1/auth/register", body).await?.1)
    }

    /// `GET /api/v1/auth/registration`: whether this server registers anyone, no one, or by invite.
    pub async fn registration(&self) -> Result<RegistrationInfo> {
        Ok(self.call::<(), RegistrationInfo>(Method::GET, "/api/v1/auth/registration", None).await?.1)
    }

    pub async fn login(&self, username: &str, password: &str) -> Result<AuthResponse> {
        let body = LoginRequest { username: username.into(), password: password.into() };
        Ok(self.post("/api/v1/auth/login", &body).await?.1)
    }

    /// Revokes this client's token: it is refused from now on, and sockets opened with it are
    /// closed with `4003`.
    pub async fn logout(&self) -> Result<()> {
        self.call::<(), serde_json::Value>(Method::POST, "/api/v1/auth/logout", None).await.map(|_| ())
    }

    /// Revokes every token of this client's user issued until now, this one included.
    pub async fn logout_all(&self) -> Result<()> {
        self.call::<(), serde_json::Value>(Method::POST, "/api/v1/auth/logout-all", None).await.map(|_| ())
    }

    /// Changes the password; every other token of the user is revoked, this client's stays valid.
    pub async fn change_password(&self, old_password: &str, new_password: &str) -> Result<()> {
        let body =
            ChangePasswordRequest { old_password: old_password.into(), new_password: new_password.into() };
        self.call::<_, serde_json::Value>(Method::PUT, "/api/v1/users/me/password", Some(&body))
            .await
            .map(|_| ())
    }

    /// Changes the display name (an empty one means the username); returns the user as stored.
    /// `PATCH /api/v1/users/me`: changes what is given (`None`: unchanged).
    pub async fn update_profile(
        &self,
        display_name: Option<&str>,
        show_last_seen: Option<bool>,
    ) -> Result<Profile> {
        let body = UpdateProfileRequest { display_name: display_name.map(Into::into), show_last_seen };
        Ok(self.call(Method::PATCH, "/api/v1/users/me", Some(&body)).await?.1)
    }

    pub async fn me(&self) -> Result<Profile> {
        self.get("/api/v1/users/me").await
    }

    pub async fn user(&self, user_id: &str) -> Result<User> {
        self.get(&format!("/api/v1/users/{user_id}")).await
    }

    pub async fn search_users(&self, prefix: &str, limit: u32) -> Result<Vec<User>> {
        let r: UsersResponse = self.get(&format!("/api/v1/users?query={prefix}&limit={limit}")).await?;
        Ok(r.users)
    }

    /// Opens (or finds) the direct conversation with `other`; `true` when it was created now.
    pub async fn open_direct(&self, other: &str) -> Result<(Conversation, bool)> {
        let body =
            CreateConversationRequest { kind: ConversationType::Direct, participant_ids: vec![other.into()] };
        let (status, conv) = self.post("/api/v1/conversations", &body).await?;
        Ok((conv, status == StatusCode::CREATED))
    }

    pub async fn create_group(
        &self,
        name: &str,
        participant_ids: &[String],
        settings: Option<GroupSettings>,
    ) -> Result<Conversation> {
        let body =
            CreateGroupRequest { name: name.into(), participant_ids: participant_ids.to_vec(), settings };
        Ok(self.post("/api/v1/groups", &body).await?.1)
    }

    pub async fn conversations(&self) -> Result<Vec<Conversation>> {
        let r: ConversationsResponse = self.get("/api/v1/conversations").await?;
        Ok(r.conversations)
    }

    pub async fn conversation(&self, id: &str) -> Result<Conversation> {
        self.get(&format!("/api/v1/conversations/{id}")).await
    }

    pub async fn add_members(&self, id: &str, user_ids: &[String]) -> Result<Conversation> {
        let body = AddMembersRequest { user_ids: user_ids.to_vec() };
        Ok(self.post(&format!("/api/v1/conversations/{id}/members"), &body).await?.1)
    }

    pub async fn remove_member(&self, id: &str, user_id: &str) -> Result<()> {
        let path = format!("/api/v1/conversations/{id}/members/{user_id}");
        self.call::<(), serde_json::Value>(Method::DELETE, &path, None).await.map(|_| ())
    }

    /// Sends a message; `true` when it was created now (`false`: an idempotent retry).
    pub async fn send_message(
        &self,
        conversation_id: &str,
        message_id: Option<&str>,
        content: serde_json::Value,
    ) -> Result<(MessageAck, bool)> {
        self.send_reply(conversation_id, message_id, content, None).await
    }

    /// Sends a message replying to the message `reply_to` (a `messageId` of the same
    /// conversation) when given.
    pub async fn send_reply(
        &self,
        conversation_id: &str,
        message_id: Option<&str>,
        content: serde_json::Value,
        reply_to: Option<&str>,
    ) -> Result<(MessageAck, bool)> {
        let body = SendMessageRequest {
            message_id: message_id.map(Into::into),
            content,
            reply_to: reply_to.map(Into::into),
            expires_in_seconds: None,
        };
        self.send_request(conversation_id, &body).await
    }

    /// Sends a disappearing message: it expires `expires_in_seconds` after it is stored (1 s to
    /// one year), after which everyone sees a tombstone.
    pub async fn send_expiring(
        &self,
        conversation_id: &str,
        message_id: Option<&str>,
        content: serde_json::Value,
        expires_in_seconds: u64,
    ) -> Result<(MessageAck, bool)> {
        let body = SendMessageRequest {
            message_id: message_id.map(Into::into),
            content,
            reply_to: None,
            expires_in_seconds: Some(expires_in_seconds),
        };
        self.send_request(conversation_id, &body).await
    }

    /// Sends a message with every option of the request body.
    pub async fn send_request(
        &self,
        conversation_id: &str,
        body: &SendMessageRequest,
    ) -> Result<(MessageAck, bool)> {
        let (status, ack) =
            self.post(&format!("/api/v1/conversations/{conversation_id}/messages"), body).await?;
        Ok((ack, status == StatusCode::CREATED))
    }

    /// Edits one of the caller's messages (`PATCH`); returns it as it is now.
    pub async fn edit_message(
        &self,
        conversation_id: &str,
        message_id: &str,
        content: serde_json::Value,
    ) -> Result<Message> {
        let path = message_path(conversation_id, message_id, &[]);
        Ok(self.call(Method::PATCH, &path, Some(&EditMessageRequest { content })).await?.1)
    }

    /// Deletes a message for everyone; returns its tombstone. `sender_id` names the sender when
    /// several senders used `message_id` in the conversation.
    pub async fn delete_message(
        &self,
        conversation_id: &str,
        message_id: &str,
        sender_id: Option<&str>,
    ) -> Result<Message> {
        let path = with_sender(message_path(conversation_id, message_id, &[]), sender_id);
        Ok(self.call::<(), Message>(Method::DELETE, &path, None).await?.1)
    }

    /// Adds (`add`) or removes the caller's reaction with `emoji`; returns the message as it is now.
    pub async fn react(
        &self,
        conversation_id: &str,
        message_id: &str,
        sender_id: Option<&str>,
        emoji: &str,
        add: bool,
    ) -> Result<Message> {
        let path = with_sender(message_path(conversation_id, message_id, &["reactions", emoji]), sender_id);
        let method = if add { Method::PUT } else { Method::DELETE };
        Ok(self.call::<(), Message>(method, &path, None).await?.1)
    }

    /// A page of history: `before` or `after` a sequence number, or the newest when neither.
    pub async fn history(
        &self,
        conversation_id: &str,
        before: Option<u64>,
        after: Option<u64>,
        limit: Option<u32>,
    ) -> Result<HistoryResponse> {
        let mut query = Vec::new();
        if let Some(b) = before {
            query.push(format!("before={b}"));
        }
        if let Some(a) = after {
            query.push(format!("after={a}"));
        }
        if let Some(l) = limit {
            query.push(format!("limit={l}"));
        }
        self.get(&format!("/api/v1/conversations/{conversation_id}/messages?{}", query.join("&"))).await
    }

    pub async fn mark_read(&self, conversation_id: &str, up_to_sequence: u64) -> Result<u64> {
        let body = ReadRequest { up_to_sequence };
        let (_, r): (_, ReadResponse) =
            self.post(&format!("/api/v1/conversations/{conversation_id}/read"), &body).await?;
        Ok(r.last_read_sequence)
    }

    pub async fn mark_message_read(&self, message_id: &str) -> Result<()> {
        let (_, _): (_, serde_json::Value) =
            self.post(&format!("/api/v1/messages/{message_id}/read"), &serde_json::json!({})).await?;
        Ok(())
    }

    pub async fn sync(&self, request: &SyncRequest) -> Result<SyncResponse> {
        Ok(self.post("/api/v1/sync", request).await?.1)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn message_paths_encode_each_segment() {
        assert_eq!(super::message_path("c", "m", &[]), "/api/v1/conversations/c/messages/m");
        assert_eq!(
            super::message_path("c", "a/b?", &["reactions", "👍"]),
            "/api/v1/conversations/c/messages/a%2Fb%3F/reactions/%F0%9F%91%8D"
        );
        assert_eq!(
            super::message_path("c", "m", &["reactions", "a\tb"]),
            "/api/v1/conversations/c/messages/m/reactions/a%09b"
        );
        assert_eq!(super::with_sender("/p".into(), Some("u 1")), "/p?senderId=u+1");
        assert_eq!(super::with_sender("/p".into(), None), "/p");
    }
}
