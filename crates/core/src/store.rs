//! The storage boundary. Adapters (embedded SQLite for one node, PostgreSQL for clusters) implement
//! these traits by reading and writing rows and leaving every decision to [`crate::rules`]; they map
//! their driver errors to [`Error::Unavailable`](crate::Error::Unavailable) (backend down: nothing
//! was written) or [`Error::Internal`](crate::Error::Internal).
//!
//! Guarantees every adapter gives:
//! - A write that returns `Ok` is durably committed (fsync'd); a write that returns `Err` left
//!   nothing behind.
//! - `sequenceNumber` is assigned at commit, per conversation: 1, 2, 3, … with no gap and no reuse,
//!   however many callers (or nodes) append to one conversation at once.
//! - Appends are idempotent per sender: a message is identified by its sender and `messageId`
//!   (see [`MessageStore::append`]).
//! - Read markers never move backwards and never pass the conversation's last sequence.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use confab_proto::{
    BlockedUser, Content, Conversation, GroupSettings, Message, MessageStatus, Role, SyncCursor,
    SyncResponse, User,
};

use crate::error::Result;

/// Largest number of participants listed in a conversation object; `memberCount` stays exact.
pub const MAX_LISTED_PARTICIPANTS: usize = 100;

pub struct NewUser {
    pub user_id: String,
    /// Already normalized by [`crate::validate::username`].
    pub username: String,
    pub display_name: String,
    /// `None` for users provisioned from an application-minted token: they cannot log in by password.
    pub password_hash: Option<String>,
    pub created_at: i64,
    /// The invite this registration redeems (registration by invite only): one of its uses is
    /// taken in the same transaction that creates the user, or nothing is written.
    pub invite: Option<InviteRedemption>,
}

/// An invite code presented at registration, by the hash it is stored under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteRedemption {
    pub code_hash: String,
    pub at: i64,
}

/// An invite to store: the code itself is shown once to its creator and kept only as a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInvite {
    pub invite_id: String,
    pub code_hash: String,
    pub uses: u32,
    pub expires_at: Option<i64>,
    pub created_at: i64,
}

/// A stored invite (never its code).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Invite {
    pub invite_id: String,
    /// How many registrations it allows in all, and how many are left.
    pub uses: u32,
    pub uses_left: u32,
    pub expires_at: Option<i64>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// Invite codes for registration by invite only (`--registration invite`).
#[async_trait]
pub trait InviteStore: Send + Sync {
    async fn create_invite(&self, invite: NewInvite) -> Result<Invite>;
    /// Every invite, newest first.
    async fn invites(&self) -> Result<Vec<Invite>>;
    /// Revokes an invite at `at`; `NotFound` for an unknown id. Idempotent (keeps the first time).
    async fn revoke_invite(&self, invite_id: &str, at: i64) -> Result<Invite>;
}

/// An API key to store: the key itself is shown once to its creator and kept only as a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub key_id: String,
    /// What the operator calls it (which application uses it).
    pub name: String,
    pub key_hash: String,
    pub created_at: i64,
}

/// A stored API key (never the key).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub key_id: String,
    pub name: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// API keys of application backends, for the server API (`/api/v1/server/...`).
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    async fn create_api_key(&self, key: NewApiKey) -> Result<ApiKey>;
    /// Every key, newest first.
    async fn api_keys(&self) -> Result<Vec<ApiKey>>;
    /// The key stored under `key_hash`, revoked or not; `None` for no such key.
    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>>;
    /// Revokes a key at `at`; `NotFound` for an unknown id. Idempotent (keeps the first time).
    async fn revoke_api_key(&self, key_id: &str, at: i64) -> Result<ApiKey>;
}

pub struct UserCredentials {
    pub user: User,
    pub password_hash: Option<String>,
}

pub struct NewGroup {
    pub conversation_id: String,
    pub name: String,
    pub creator_id: String,
    /// Other members; the creator is added as admin and need not be listed.
    pub member_ids: Vec<String>,
    pub settings: GroupSettings,
    pub created_at: i64,
    pub max_group_size: u32,
}

/// A change to a group: what is `None` is unchanged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupUpdate {
    /// Already normalized by [`crate::validate::group_name`].
    pub name: Option<String>,
    /// Settings to change, by key, merged over the stored ones by
    /// [`rules::management::patch_settings`](crate::rules::management::patch_settings).
    pub settings: Option<serde_json::Map<String, serde_json::Value>>,
}

pub struct NewMessage {
    pub message_id: String,
    pub conversation_id: String,
    pub sender_id: String,
    pub content: Content,
    /// The `messageId` this message replies to, to be found in the same conversation.
    pub reply_to: Option<String>,
    /// A disappearing message expires this many seconds after it is stored (already checked by
    /// [`rules::expiry::expires_in`](crate::rules::expiry::expires_in)).
    pub expires_in: Option<u32>,
}

impl NewMessage {
    /// A message that replies to nothing.
    pub fn new(message_id: String, conversation_id: String, sender_id: String, content: Content) -> Self {
        NewMessage { message_id, conversation_id, sender_id, content, reply_to: None, expires_in: None }
    }

    /// Whether `other` is this very message sent again: the same conversation, sender, content and
    /// reply.
    pub fn same_as(&self, other: &NewMessage) -> bool {
        self.conversation_id == other.conversation_id
            && self.sender_id == other.sender_id
            && self.content == other.content
            && self.reply_to == other.reply_to
            && self.expires_in == other.expires_in
    }

    /// Idempotency, when this sender's message with this id is already stored as `existing`: the
    /// original, if this is the same message again, otherwise `DuplicateMessage`. A message
    /// changed since (edited, deleted, reacted to) is still the same message: the original send
    /// is compared, not the current state, so only its content must match while it is unedited.
    pub fn resend_of(&self, existing: Message) -> Result<Appended> {
        let changed = existing.edited_at.is_some() || existing.is_deleted();
        let expires_in = existing.expires_at.map(|at| at - existing.timestamp);
        let same = existing.conversation_id == self.conversation_id
            && existing.sender_id == self.sender_id
            && (existing.reply_to == self.reply_to || existing.is_deleted())
            && expires_in == self.expires_in.map(|s| i64::from(s) * 1000)
            && (existing.content == self.content || changed);
        if same {
            Ok(Appended { message: existing, created: false })
        } else {
            Err(crate::Error::DuplicateMessage)
        }
    }
}

/// The status of one of the viewer's own messages, from the other members' lowest delivered and
/// read markers (`None` when there are no other members).
pub fn own_message_status(sequence: u64, min_delivered: Option<u64>, min_read: Option<u64>) -> MessageStatus {
    match (min_delivered, min_read) {
        (_, Some(r)) if r >= sequence => MessageStatus::Read,
        (Some(d), _) if d >= sequence => MessageStatus::Delivered,
        _ => MessageStatus::Sent,
    }
}

/// The outcome of an append: the stored message, and whether this call created it (`false` when
/// an identical earlier send is returned again).
#[derive(Debug, Clone)]
pub struct Appended {
    pub message: Message,
    pub created: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryCursor {
    /// The newest messages.
    Latest,
    /// The newest messages below this sequence number.
    Before(u64),
    /// The oldest messages above this sequence number.
    After(u64),
}

#[derive(Debug, Clone)]
pub struct HistoryPage {
    /// Ascending by sequence number.
    pub messages: Vec<Message>,
    /// More messages exist beyond this page in the cursor's direction.
    pub has_more: bool,
}

/// A future that a store returns from methods whose ordering matters at call time.
pub type StoreFuture<T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'static>>;

/// Called once an append is durable, in the order the appends committed (so in sequence order per
/// conversation), before the append's future resolves. It runs on the store's own thread and must
/// not block: hand the message on (e.g. to a channel) and return.
pub type AfterCommit = Box<dyn FnOnce(&Appended) + Send + Sync + 'static>;

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates a user; `UsernameTaken` when the (normalized) username exists. With an invite, one
    /// use of it is taken in the same transaction; an invite that is unknown, used up, expired or
    /// revoked is `Forbidden` and nothing is written (a taken username takes no use).
    async fn create_user(&self, user: NewUser) -> Result<User>;
    /// Finds a user and their password hash by normalized username.
    async fn credentials(&self, username: &str) -> Result<Option<UserCredentials>>;
    async fn user(&self, user_id: &str) -> Result<Option<User>>;
    /// Users whose username starts with `prefix` (normalized), ordered by username.
    async fn search_users(&self, prefix: &str, limit: u32) -> Result<Vec<User>>;
    /// Replaces a user's display name (already normalized by
    /// [`crate::validate::display_name`]) and returns the user as stored now; `UserNotFound` when
    /// there is no such user.
    async fn set_display_name(&self, user_id: &str, display_name: &str) -> Result<User>;
    /// Whether others may see when the user was last seen (true unless turned off);
    /// `UserNotFound` when there is no such user.
    async fn show_last_seen(&self, user_id: &str) -> Result<bool>;
    /// Records whether others may see when the user was last seen; `UserNotFound` when there is
    /// no such user.
    async fn set_show_last_seen(&self, user_id: &str, show: bool) -> Result<()>;
    /// Those of `users` who hide when they were last seen (unknown users are left out), in no
    /// particular order.
    async fn hiding_last_seen(&self, users: &[String]) -> Result<Vec<String>>;
    /// Replaces a user's password hash and, in the same transaction, revokes every session of
    /// theirs issued before `revoke_before` except `keep` (as
    /// [`SessionStore::revoke_sessions_before`] does): either both happen or neither.
    /// `UserNotFound` when there is no such user.
    async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        revoke_before: i64,
        keep: Option<&str>,
    ) -> Result<()>;
}

/// The per-user cutoff: tokens of the user issued before `before` (ms since the epoch) are
/// revoked, except the one whose session id is `kept_session` (the caller of a password change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCutoff {
    pub before: i64,
    pub kept_session: Option<String>,
}

/// What is revoked of one user's tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revocations {
    /// Session ids (`jti`) revoked one by one and not yet expired, in no particular order.
    pub sessions: Vec<String>,
    pub cutoff: Option<SessionCutoff>,
}

/// Revoked sessions: the source of truth nodes read their revocation caches from (a node started
/// later learns every revocation here). Revocations are never undone; each is durable once the
/// call returns `Ok`.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Revokes one session of `user` until `expires_at` (ms; the token's own expiry, after which it
    /// is refused anyway and the record may be purged). Idempotent.
    async fn revoke_session(&self, user: &str, session_id: &str, expires_at: i64) -> Result<()>;
    /// Revokes every token of `user` issued before `before` (ms), except session `keep`. A cutoff
    /// never moves backwards: an earlier `before` than the stored one changes nothing; an equal or
    /// later one replaces the stored cutoff and its kept session. The user need not exist.
    async fn revoke_sessions_before(&self, user: &str, before: i64, keep: Option<&str>) -> Result<()>;
    /// What is revoked of `user`'s tokens: sessions expiring after `now` (ms) and the cutoff.
    /// Empty for a user with none (or no such user).
    async fn revocations(&self, user: &str, now: i64) -> Result<Revocations>;
    /// Forgets revoked sessions that expired before `now` (ms); returns how many.
    async fn purge_revoked_sessions(&self, now: i64) -> Result<u64>;
}

#[async_trait]
pub trait ConversationStore: Send + Sync {
    /// The direct conversation of `a` and `b`, created with `new_id` if the pair has none.
    /// Returns its id and whether it was created. Both users must exist (`UserNotFound`) and be
    /// two different users (`InvalidRequest`), and `b` must not block `a` (`Forbidden`, whether
    /// or not the conversation exists; see [`crate::rules::blocks::direct_open`]).
    async fn open_direct(&self, a: &str, b: &str, new_id: String, now: i64) -> Result<(String, bool)>;
    /// Creates a group; every member must exist (`UserNotFound`), and the group may not exceed
    /// `max_group_size` members (`InvalidRequest`).
    async fn create_group(&self, group: NewGroup) -> Result<()>;
    /// A conversation as `viewer` sees it: `ConversationNotFound` when the id is unknown,
    /// `Forbidden` when `viewer` is not a member.
    async fn conversation(&self, conversation_id: &str, viewer: &str) -> Result<Conversation>;
    /// Every conversation of `user`, most recently active first.
    async fn conversations_of(&self, user: &str) -> Result<Vec<Conversation>>;
    /// Adds members on behalf of `actor` (an admin, or any member when the group allows invites).
    /// Returns the ids actually added (existing members are skipped).
    async fn add_members(
        &self,
        conversation_id: &str,
        actor: &str,
        user_ids: &[String],
        now: i64,
        max_group_size: u32,
    ) -> Result<Vec<String>>;
    /// Removes `user` on behalf of `actor` (an admin, or the user leaving). When the last admin
    /// leaves, the longest-standing member becomes admin.
    async fn remove_member(&self, conversation_id: &str, actor: &str, user: &str) -> Result<()>;
    /// Every member's user id (used for fan-out; not truncated).
    async fn member_ids(&self, conversation_id: &str) -> Result<Vec<String>>;
    /// Every member's `lastReadSequence`, to give each member its own view of a conversation.
    async fn read_markers(&self, conversation_id: &str) -> Result<Vec<(String, u64)>>;
}

#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Appends a message and assigns its sequence number and timestamp (both at commit time); the
    /// future resolves once the message is durable.
    ///
    /// The append is queued when this method is *called*, not when the future is first polled, so
    /// one caller's appends keep their call order. Idempotency is scoped to the sender: a message is
    /// identified by (sender, `messageId`). The same sender's `messageId` again with the same
    /// conversation and content returns the original message with `created: false`; with a
    /// different conversation or content it is `DuplicateMessage`. Another sender's message with
    /// the same `messageId` is a different message: it never conflicts, and an append reveals
    /// nothing about it. The sender must be a member (`Forbidden`), and may post in a group
    /// restricted to admins only as an admin. In a direct conversation, a block either way between
    /// the two members is `Forbidden` ([`crate::rules::blocks::direct_send`]), decided in the same
    /// transaction as the append: a block stored before the append is never missed.
    fn append(&self, message: NewMessage, after_commit: Option<AfterCommit>) -> StoreFuture<Appended>;
    /// A page of a conversation's history as `viewer` may see it (`Forbidden` for non-members).
    async fn history(
        &self,
        conversation_id: &str,
        viewer: &str,
        cursor: HistoryCursor,
        limit: u32,
    ) -> Result<HistoryPage>;
    /// Conversation and sequence number of the message `viewer` means by `message_id`, among those
    /// in conversations `viewer` is in: their own, else the newest
    /// ([`rules::access::meant_by`](crate::rules::access::meant_by)). `MessageNotFound` when
    /// there is none, however many exist elsewhere.
    async fn locate_message(&self, message_id: &str, viewer: &str) -> Result<(String, u64)>;
    /// Offline recovery: for each listed conversation `user` belongs to, up to `limit` messages
    /// after the cursor; every other conversation of the user comes back in `newConversations`.
    async fn sync(&self, user: &str, cursors: &[SyncCursor], limit: u32) -> Result<SyncResponse>;
    /// Conversations with messages committed at or after `since` (ms since the epoch), most
    /// recently active first, at most `limit`: each with the range committed since then, looked
    /// for among its newest `depth` messages. After a node died, what it committed but may not
    /// have published is in these ranges.
    async fn committed_since(&self, since: i64, depth: u64, limit: u32) -> Result<Vec<CommittedRange>>;
}

/// Messages of one conversation committed since some time (see
/// [`MessageStore::committed_since`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedRange {
    pub conversation_id: String,
    /// The oldest message committed since then (within the depth looked at).
    pub first_sequence: u64,
    /// The conversation's newest message.
    pub last_sequence: u64,
}

/// How a per-member marker moved: `current == previous` when the call changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkerMove {
    pub previous: u64,
    pub current: u64,
}

impl MarkerMove {
    pub fn advanced(&self) -> bool {
        self.current > self.previous
    }
}

/// Reading moves the read marker and, since what was read was received, the delivered marker too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadMove {
    pub read: MarkerMove,
    pub delivered: MarkerMove,
}

/// A message's identity, for receipts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRef {
    pub message_id: String,
    pub sender_id: String,
    pub sequence_number: u64,
}

/// Who received and who read one message, with when each first did (ms since the epoch).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Receipts {
    pub delivered_to: Vec<(String, i64)>,
    pub read_by: Vec<(String, i64)>,
}

/// Per-member delivery and read markers. Markers never move backwards and never pass the
/// conversation's last sequence (a larger `up_to` is clamped, never stored); each advance is
/// recorded with its time, so receipts can say when a member first received or read a message.
/// History and sync report the caller's own messages as `SENT`, `DELIVERED` (every other member's
/// delivered marker has reached them) or `READ` (every other member's read marker has).
#[async_trait]
pub trait ReceiptStore: Send + Sync {
    /// Moves `user`'s delivered marker forward. `Forbidden` for non-members.
    async fn mark_delivered(
        &self,
        conversation_id: &str,
        user: &str,
        up_to: u64,
        at: i64,
    ) -> Result<MarkerMove>;
    /// Moves `user`'s read marker (and delivered marker) forward. `Forbidden` for non-members.
    async fn mark_read(&self, conversation_id: &str, user: &str, up_to: u64, at: i64) -> Result<ReadMove>;
    /// Messages with `after < sequence <= up_to`, ascending.
    async fn messages_between(
        &self,
        conversation_id: &str,
        after: u64,
        up_to: u64,
    ) -> Result<Vec<MessageRef>>;
    /// Receipts of one message of a conversation `viewer` is in (`MessageNotFound` when no message
    /// with that id is in that conversation; when several senders' are, the viewer's own, else the
    /// newest). The sender is never listed.
    async fn receipts(&self, conversation_id: &str, message_id: &str, viewer: &str) -> Result<Receipts>;
}

/// What presence needs from storage: when users were last seen, and whom a user shares
/// conversations with.
#[async_trait]
pub trait PresenceStore: Send + Sync {
    async fn touch_last_seen(&self, user: &str, at: i64) -> Result<()>;
    /// `lastSeen` of each listed user that exists (`None`: never seen), in the order listed.
    async fn last_seen(&self, users: &[String]) -> Result<Vec<(String, Option<i64>)>>;
    /// Users sharing at least one conversation with `user` (not `user`), at most `limit`. Users
    /// blocking `user` or blocked by them are no contacts, whatever they share.
    async fn contacts_of(&self, user: &str, limit: u32) -> Result<Vec<String>>;
    /// Those of `users` who share at least one conversation with `user` (and neither blocks the
    /// other), each once, in the order listed. `user` itself, unknown ids and users sharing
    /// nothing are left out alike. Asking about a few users costs a few index look-ups, however
    /// many contacts `user` has.
    async fn contacts_among(&self, user: &str, users: &[String]) -> Result<Vec<String>>;
}

/// Blocks between users ([`crate::rules::blocks`]). Each change is durable once the call returns
/// `Ok`; blocks are read again inside every direct append and direct opening, so a stored block
/// takes effect for every later one, on any node.
#[async_trait]
pub trait BlockStore: Send + Sync {
    /// `blocker` blocks `blocked` as of `at` (ms). `blocked` must exist (`UserNotFound`) and be
    /// someone else (`InvalidRequest`); at most [`MAX_BLOCKS`](crate::rules::blocks::MAX_BLOCKS)
    /// blocks per user (`InvalidRequest`). Idempotent: blocking again keeps the first time.
    /// Returns whether the block is new.
    async fn block_user(&self, blocker: &str, blocked: &str, at: i64) -> Result<bool>;
    /// Ends `blocker`'s block of `blocked`, who must exist (`UserNotFound`) and be someone else
    /// (`InvalidRequest`). Idempotent; returns whether there was a block.
    async fn unblock_user(&self, blocker: &str, blocked: &str) -> Result<bool>;
    /// The users `blocker` blocks, most recent block first (then by user id).
    async fn blocks_of(&self, blocker: &str) -> Result<Vec<BlockedUser>>;
    /// Blocks between `user` and `peer`, either way.
    async fn blocking(&self, user: &str, peer: &str) -> Result<crate::rules::blocks::Blocking>;
}

/// Group management ([`crate::rules::management`]). Both writes hold the conversation's row while
/// they decide, so concurrent changes (two admins stepping down at once) see each other.
#[async_trait]
pub trait GroupAdminStore: Send + Sync {
    /// Renames and/or changes the settings of a group on behalf of `actor`, an admin. Returns
    /// whether anything changed. `ConversationNotFound`, `Forbidden` (not a member, or not an
    /// admin), `InvalidRequest` (a direct conversation, or settings that do not parse).
    async fn update_group(&self, conversation_id: &str, actor: &str, update: &GroupUpdate) -> Result<bool>;
    /// Gives `user` the `role` on behalf of `actor`, an admin. Returns whether it changed.
    /// `NotFound` when `user` is not a member; `InvalidRequest` when the last admin would step
    /// down (and for a direct conversation); otherwise as [`GroupAdminStore::update_group`].
    async fn set_role(&self, conversation_id: &str, actor: &str, user: &str, role: Role) -> Result<bool>;
}

/// A message search (see [`crate::rules::search`] for the query, order and cursor).
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// Whose conversations are searched: those they are a member of now.
    pub user: String,
    pub query: crate::rules::search::SearchQuery,
    /// Only this conversation (if `user` is not in it, nothing matches).
    pub conversation_id: Option<String>,
    pub sender_id: Option<String>,
    /// Only messages with `createdAt < before` (ms).
    pub before: Option<i64>,
    /// Only messages with `createdAt > after` (ms).
    pub after: Option<i64>,
    /// Only results after this key.
    pub after_key: Option<crate::rules::search::SearchKey>,
    /// At most this many results.
    pub limit: u32,
    /// How long the search may take (`None`: as long as it needs): past it the search stops with
    /// [`Error::SearchTooBroad`](crate::Error::SearchTooBroad).
    pub time_limit: Option<std::time::Duration>,
}

impl SearchRequest {
    /// The first page of `user`'s search for `query`, without filters.
    pub fn new(user: &str, query: crate::rules::search::SearchQuery, limit: u32) -> Self {
        SearchRequest {
            user: user.to_string(),
            query,
            conversation_id: None,
            sender_id: None,
            before: None,
            after: None,
            after_key: None,
            limit,
            time_limit: None,
        }
    }
}

/// One search result: the message as stored now, and where it stands in the order.
#[derive(Debug, Clone)]
pub struct SearchHit {
    pub message: Message,
    pub key: crate::rules::search::SearchKey,
}

/// Full-text search over messages.
///
/// Guarantees: only conversations the user is a member of at the time of the call are searched
/// (a conversation left is no longer searched, a foreign or unknown `conversation_id` finds
/// nothing, indistinguishably); only the text of text messages and attachment captions is
/// searched, as it is now: the index is written in the same transaction as every append, edit
/// and delete, so an edit is found by its new text and a deleted message is never found once the
/// delete is acknowledged. Words match ignoring case and accents. Hits come in the order of
/// [`crate::rules::search`], each key strictly after `after_key`.
#[async_trait]
pub trait SearchStore: Send + Sync {
    async fn search_messages(&self, request: SearchRequest) -> Result<Vec<SearchHit>>;
}

#[async_trait]
pub trait Store:
    UserStore
    + SearchStore
    + ConversationStore
    + MessageStore
    + ReceiptStore
    + PresenceStore
    + SessionStore
    + BlockStore
    + GroupAdminStore
    + crate::moderation::ModerationStore
    + crate::lifecycle::LifecycleStore
    + crate::lifecycle::ExpiryStore
    + InviteStore
    + ApiKeyStore
    + crate::attachments::AttachmentStore
    + crate::push::PushStore
{
    /// Succeeds when the backend can serve reads and writes.
    async fn ping(&self) -> Result<()>;
    /// A cluster-wide setting: the stored value for `key`, or `candidate` stored and returned
    /// when there is none (first writer wins).
    async fn setting_or_init(&self, key: &str, candidate: &str) -> Result<String>;
    /// Finishes queued writes and stops accepting new ones.
    async fn shutdown(&self);
}

pub type SharedStore = Arc<dyn Store>;

#[cfg(test)]
mod tests {
    use super::*;
    use confab_proto::MessageStatus::*;

    #[test]
    fn own_status_follows_the_slowest_other_member() {
        assert_eq!(own_message_status(5, Some(4), Some(1)), Sent);
        assert_eq!(own_message_status(5, Some(5), Some(4)), Delivered);
        assert_eq!(own_message_status(5, Some(9), Some(5)), Read);
        assert_eq!(own_message_status(5, None, None), Sent, "nobody else to receive it");
    }

    #[test]
    fn a_resend_is_the_original_only_if_nothing_differs() {
        let msg = NewMessage::new("m".into(), "c".into(), "u".into(), Content::Text { text: "hi".into() });
        let stored =
            Message::new("m".into(), "c".into(), "u".into(), Content::Text { text: "hi".into() }, 3, 1);
        let again = msg.resend_of(stored.clone()).unwrap();
        assert_eq!((again.created, again.message.sequence_number), (false, 3));
        let replying = NewMessage {
            reply_to: Some("r".into()),
            ..NewMessage::new("m".into(), "c".into(), "u".into(), Content::Text { text: "hi".into() })
        };
        assert_eq!(replying.resend_of(stored.clone()).unwrap_err(), crate::Error::DuplicateMessage);
        // A retry of a message edited since is still answered with it (in its current state).
        let mut edited = stored.clone();
        edited.content = Content::Text { text: "edited".into() };
        edited.edited_at = Some(5);
        assert!(!msg.resend_of(edited).unwrap().created);
        let other = NewMessage { content: Content::Text { text: "changed".into() }, ..msg };
        assert_eq!(other.resend_of(stored).unwrap_err(), crate::Error::DuplicateMessage);
    }
}
