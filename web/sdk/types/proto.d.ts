// Generated from the Rust wire types in crates/proto by crates/proto-ts (ts-rs). Do not edit:
// regenerate with `CONFAB_UPDATE_TS=1 cargo test -p confab-proto-ts`.

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]: JsonValue } | null;

export type ErrorCode = "INVALID_REQUEST" | "INVALID_MESSAGE" | "UNAUTHORIZED" | "FORBIDDEN" | "BANNED" | "CONVERSATION_NOT_FOUND" | "USER_NOT_FOUND" | "MESSAGE_NOT_FOUND" | "NOT_FOUND" | "DUPLICATE_MESSAGE" | "USERNAME_TAKEN" | "PAYLOAD_TOO_LARGE" | "RATE_LIMITED" | "UNAVAILABLE" | "INTERNAL_ERROR";

export type ErrorBody = { error: ErrorCode, message: string, retryAfter?: number | null, 
/**
 * With `BANNED`: why, and until when (a Confab extension).
 */
ban?: BanNotice, };

export type User = { userId: string, username: string, displayName: string, };

export type ConversationType = "direct" | "group";

export type Role = "admin" | "member";

export type Participant = { userId: string, role: Role, };

export type GroupSettings = { onlyAdminsCanPost: boolean, allowMemberInvites: boolean, 
/**
 * Messages older than this many days are removed (0: the server's retention alone applies;
 * when both are set, the shorter one wins).
 */
retentionDays: number, };

export type Conversation = { conversationId: string, type: ConversationType, name: string | null, 
/**
 * May be truncated for large groups; `memberCount` is always exact.
 */
participants: Array<Participant>, memberCount: number, settings: GroupSettings, createdAt: number, lastSequence: number, lastMessage?: Message | null, lastReadSequence: number, unreadCount: number, 
/**
 * The conversation's update sequence: how many changes to existing messages (edits,
 * deletes, reactions) it has seen; 0 before the first.
 */
lastUpdateSequence: number, 
/**
 * The oldest sequence number still stored (0 while the conversation has no message).
 */
firstSequence: number, 
/**
 * Whether the viewer has silenced the conversation's push notifications (now).
 */
muted: boolean, 
/**
 * Until when (ms since the epoch); absent when muted until unmuted, or not muted.
 */
mutedUntil?: number | null, };

export type Content = { "type": "text", text: string, } | { "type": "image" } & AttachmentContent | { "type": "video" } & AttachmentContent | { "type": "audio" } & AttachmentContent | { "type": "file" } & AttachmentContent | { "type": "deleted" };

export type AttachmentContent = { attachmentId: string, text?: string | null, metadata?: JsonValue | null, };

export type Attachment = { attachmentId: string, 
/**
 * What the bytes are, as the server read them (never the client's word alone): an upload
 * whose bytes are no known type, or an active type such as HTML or SVG, is
 * `application/octet-stream`.
 */
contentType: string, 
/**
 * Bytes.
 */
size: number, 
/**
 * The name the uploader gave (`?filename=` or the multipart part's), cleaned of paths and
 * control characters; `file` when none was given.
 */
filename: string, 
/**
 * SHA-256 of the bytes, lower-case hex (also the download's `ETag`).
 */
sha256: string, createdAt: number, 
/**
 * Pixel size of an image, read from its header.
 */
width?: number | null, height?: number | null, 
/**
 * `GET /api/v1/attachments/{id}/thumbnail` serves a JPEG at most 320 px on its longer side.
 */
hasThumbnail: boolean, };

export type PushKind = "webpush" | "fcm" | "apns" | "webhook";

export type PushConfig = { 
/**
 * The VAPID public key (base64url, uncompressed P-256 point) a browser passes to
 * `pushManager.subscribe` as `applicationServerKey`; absent when Web Push is off.
 */
webPushPublicKey?: string | null, 
/**
 * The kinds this server can deliver to.
 */
kinds: Array<PushKind>, };

export type WebPushKeys = { p256dh: string, auth: string, };

export type PushSubscriptionRequest = { deviceId: string, kind: PushKind, endpoint?: string | null, keys?: WebPushKeys | null, token?: string | null, };

export type PushSubscription = { subscriptionId: string, deviceId: string, kind: PushKind, createdAt: number, };

export type PushSubscriptionList = { subscriptions: Array<PushSubscription>, };

export type NotificationSettings = { muted: boolean, mutedUntil?: number | null, };

export type PushPayload = { conversationId: string, messageId: string, sequenceNumber: number, 
/**
 * Messages since the device's last push for this conversation (this one included).
 */
count: number, senderName?: string | null, preview?: string | null, 
/**
 * The conversation's name (a group's, or the other member's for a direct conversation), as
 * far as the preview setting shows names.
 */
title?: string | null, };

export type MessageStatus = "SENT" | "DELIVERED" | "READ";

export type Reaction = { emoji: string, 
/**
 * How many users reacted with it (exact).
 */
count: number, 
/**
 * The first users to react with it, earliest first: at most 20 of them.
 */
userIds: Array<string>, };

export type Message = { messageId: string, conversationId: string, senderId: string, content: Content, sequenceNumber: number, timestamp: number, status?: MessageStatus | null, 
/**
 * The `messageId` of the message this one replies to, in the same conversation.
 */
replyTo?: string | null, 
/**
 * The `sequenceNumber` of the message replied to (Confab extension: which one is meant even
 * when two senders used the same `messageId`).
 */
replyToSequence?: number | null, 
/**
 * When the text was last edited.
 */
editedAt?: number | null, 
/**
 * `true` for a message deleted for everyone (a tombstone: `content` is `{type: "deleted"}`).
 */
deleted?: boolean | null, 
/**
 * Reactions, in the order their first user added them; absent when there are none.
 */
reactions?: Array<Reaction> | null, 
/**
 * The conversation's update sequence at this message's latest change (0: never changed).
 */
updateSequence: number, 
/**
 * When a disappearing message expires (it is a tombstone from then on).
 */
expiresAt?: number | null, };

export type MessageAck = { messageId: string, conversationId: string, sequenceNumber: number, timestamp: number, };

export type PresenceStatus = "online" | "away" | "offline";

export type Presence = { userId: string, status: PresenceStatus, 
/**
 * Last time the user was seen connected; `null` for a user never seen, or when either this
 * user or the one told hides when they were last seen (`showLastSeen`).
 */
lastSeen: number | null, };

export type RegisterRequest = { username: string, password: string, displayName?: string | null, 
/**
 * Required when the server registers by invite only (see [`RegistrationInfo`]).
 */
inviteCode?: string | null, };

export type RegistrationMode = "open" | "closed" | "invite";

export type RegistrationInfo = { mode: RegistrationMode, };

export type LoginRequest = { username: string, password: string, };

export type ChangePasswordRequest = { oldPassword: string, newPassword: string, };

export type UpdateProfileRequest = { 
/**
 * Normalized like a registration's; empty means the username. Absent: unchanged.
 */
displayName?: string, 
/**
 * Whether others may see when this user was last seen (and, reciprocally, whether this user
 * sees theirs). Absent: unchanged.
 */
showLastSeen?: boolean, };

export type Profile = { 
/**
 * Whether others see this user's `lastSeen` (default true).
 */
showLastSeen: boolean, 
/**
 * Whether this user is a server administrator (`--admin-users`).
 */
admin: boolean, userId: string, username: string, displayName: string, };

export type AuthResponse = { userId: string, username: string, displayName: string, token: string, expiresAt: number, };

export type UsersResponse = { users: Array<User>, };

export type CreateConversationRequest = { type: ConversationType, participantIds: Array<string>, };

export type CreateGroupRequest = { name: string, participantIds: Array<string>, settings?: GroupSettings | null, };

export type AddMembersRequest = { userIds: Array<string>, };

export type ConversationsResponse = { conversations: Array<Conversation>, };

export type SendMessageRequest = { messageId?: string | null, content: JsonValue, 
/**
 * The `messageId` of a message of the same conversation this one replies to.
 */
replyTo?: string | null, 
/**
 * A disappearing message: it expires this many seconds after it is stored (1 s to 1 year).
 */
expiresInSeconds?: number | null, };

export type EditMessageRequest = { content: JsonValue, };

export type HistoryResponse = { messages: Array<Message>, hasMore: boolean, nextCursor: number | null, };

export type SearchResult = { message: Message, 
/**
 * The text around the hits, HTML-escaped, each hit in `<mark>…</mark>`.
 */
snippet: string, };

export type SearchResponse = { 
/**
 * Best first, newer first among equals.
 */
results: Array<SearchResult>, 
/**
 * Pass as `cursor` for the next page; `null` on the last page.
 */
nextCursor: string | null, };

export type ReadRequest = { upToSequence: number, };

export type ReadResponse = { lastReadSequence: number, };

export type MessageReadResponse = { status: string, };

export type SyncCursor = { conversationId: string, lastSequence: number, 
/**
 * The last update sequence the client has applied: the result then carries `updates`.
 */
lastUpdateSequence?: number | null, };

export type SyncRequest = { conversations: Array<SyncCursor>, limit?: number | null, };

export type SyncConversation = { conversationId: string, messages: Array<Message>, hasMore: boolean, 
/**
 * The conversation's current last sequence number.
 */
lastSequence: number, unreadCount: number, 
/**
 * When the cursor carried `lastUpdateSequence`: the messages up to its `lastSequence`
 * changed since, in their current state, ascending by `updateSequence`.
 */
updates?: Array<Message> | null, 
/**
 * The update sequence to sync from next time: the conversation's current one, or, when
 * `updates` was cut short (`hasMore`), the `updateSequence` of the last update returned.
 */
lastUpdateSequence: number, 
/**
 * The oldest sequence number still stored.
 */
firstSequence: number, };

export type SyncResponse = { conversations: Array<SyncConversation>, newConversations: Array<Conversation>, serverTime: number, };

export type ReceiptEntry = { userId: string, timestamp: number, };

export type ReceiptsResponse = { deliveredTo: Array<ReceiptEntry>, readBy: Array<ReceiptEntry>, };

export type BlockedUser = { user: User, 
/**
 * When the block was made (ms since the epoch); blocking again does not move it.
 */
blockedAt: number, };

export type BlocksResponse = { blocks: Array<BlockedUser>, };

export type UpdateConversationRequest = { 
/**
 * Normalised and checked like a group name at creation.
 */
name?: string, 
/**
 * Settings to change, by key, merged over the current ones: keys absent keep their value, keys
 * the server does not know are ignored (as at creation). Kept as raw JSON so that every key of
 * [`GroupSettings`](crate::GroupSettings), including ones added later, can be changed here.
 */
settings?: Partial<GroupSettings>, };

export type SetRoleRequest = { role: Role, };

export type ReportRequest = { messageId: string, reason: string, 
/**
 * Confab extension: the conversation the message is in, when the reporter knows it.
 */
conversationId?: string, };

export type ReportStatus = "open" | "resolved";

export type ReportReceipt = { reportId: string, conversationId: string, messageId: string, status: ReportStatus, createdAt: number, };

export type Report = { reportId: string, reporterId: string, conversationId: string, messageId: string, 
/**
 * Who wrote the reported message.
 */
senderId: string, sequenceNumber: number, reason: string, status: ReportStatus, createdAt: number, resolvedAt?: number, 
/**
 * The administrator who resolved it (`null` when resolved from the command line).
 */
resolvedBy?: string, resolution?: string, 
/**
 * The reported message in its current state (absent when it is no longer stored).
 */
message?: Message, };

export type ReportsResponse = { reports: Array<Report>, 
/**
 * Pass as `cursor` for the next page; `null` on the last one.
 */
nextCursor: string | null, };

export type ResolveReportRequest = { resolution: string, };

export type BanRequest = { reason: string, 
/**
 * When the ban ends by itself (ms since the epoch, in the future); absent: until unbanned.
 */
until?: number, };

export type Ban = { userId: string, reason: string, 
/**
 * When it ends by itself; `null`: until unbanned.
 */
until: number | null, bannedAt: number, 
/**
 * The administrator who banned (`null` when banned from the command line).
 */
bannedBy: string | null, };

export type BanNotice = { reason: string, 
/**
 * When the suspension ends; `null`: until lifted.
 */
until: number | null, };

export type AdminUser = { createdAt: number, 
/**
 * Listed in `--admin-users`.
 */
admin: boolean, 
/**
 * The ban in force, if any.
 */
ban?: Ban, userId: string, username: string, displayName: string, };

export type AdminUsersResponse = { users: Array<AdminUser>, 
/**
 * Pass as `cursor` for the next page (a username); `null` on the last one.
 */
nextCursor: string | null, };

export type LiveConnection = { connectionId: string, deviceId: string, 
/**
 * The token's session id (`jti`), absent for application tokens without one.
 */
sessionId: string | null, connectedAt: number, };

export type UserSessionsResponse = { userId: string, 
/**
 * Across the whole cluster.
 */
presence: PresenceStatus, 
/**
 * The node that answered (nodes are told apart by a random id per process).
 */
nodeId: string, 
/**
 * The user's connections on that node.
 */
connections: Array<LiveConnection>, };

export type AdminStats = { users: number, conversations: number, 
/**
 * Messages ever sent (the sum of every conversation's last sequence number).
 */
messages: number, openReports: number, activeBans: number, 
/**
 * WebSocket connections open on the node that answered.
 */
liveConnections: number, nodeId: string, };

export type PublishRequest = { senderId?: string | null, 
/**
 * Makes retries idempotent, as for any sender; a new id when absent.
 */
messageId?: string | null, content: JsonValue, replyTo?: string | null, };

export type ServerCreateConversationRequest = { type: ConversationType, creatorId: string, participantIds: Array<string>, 
/**
 * Required for a group.
 */
name?: string | null, settings?: GroupSettings | null, };

export type ServerAddMembersRequest = { actorId?: string | null, userIds: Array<string>, };

export type ServerPresenceResponse = { presences: Array<Presence>, };

export type SendPayload = { messageId?: string | null, conversationId: string, content: JsonValue, 
/**
 * The `messageId` of a message of the same conversation this one replies to.
 */
replyTo?: string | null, 
/**
 * A disappearing message: it expires this many seconds after it is stored (1 s to 1 year).
 */
expiresInSeconds?: number | null, };

export type UpToPayload = { conversationId: string, upToSequence: number, };

export type EditPayload = { conversationId: string, messageId: string, content: JsonValue, };

export type MessageRefPayload = { conversationId: string, messageId: string, senderId?: string | null, };

export type ReactionPayload = { conversationId: string, messageId: string, emoji: string, senderId?: string | null, };

export type ConversationRef = { conversationId: string, };

export type PresenceSubscribePayload = { userIds: Array<string>, };

export type PresenceSetPayload = { status: PresenceStatus, };

export type HeartbeatPayload = { timestamp?: number | null, };

export type ClientFrame = { "type": "message.send", "payload": SendPayload } | { "type": "message.received", "payload": UpToPayload } | { "type": "message.read", "payload": UpToPayload } | { "type": "message.edit", "payload": EditPayload } | { "type": "message.delete", "payload": MessageRefPayload } | { "type": "reaction.add", "payload": ReactionPayload } | { "type": "reaction.remove", "payload": ReactionPayload } | { "type": "typing.start", "payload": ConversationRef } | { "type": "typing.stop", "payload": ConversationRef } | { "type": "presence.subscribe", "payload": PresenceSubscribePayload } | { "type": "presence.set", "payload": PresenceSetPayload } | { "type": "sync", "payload": SyncRequest } | { "type": "heartbeat", "payload": HeartbeatPayload };

export type ClientEnvelope = { id?: string, } & ({ "type": "message.send", "payload": SendPayload } | { "type": "message.received", "payload": UpToPayload } | { "type": "message.read", "payload": UpToPayload } | { "type": "message.edit", "payload": EditPayload } | { "type": "message.delete", "payload": MessageRefPayload } | { "type": "reaction.add", "payload": ReactionPayload } | { "type": "reaction.remove", "payload": ReactionPayload } | { "type": "typing.start", "payload": ConversationRef } | { "type": "typing.stop", "payload": ConversationRef } | { "type": "presence.subscribe", "payload": PresenceSubscribePayload } | { "type": "presence.set", "payload": PresenceSetPayload } | { "type": "sync", "payload": SyncRequest } | { "type": "heartbeat", "payload": HeartbeatPayload });

export type ConnectedPayload = { connectionId: string, userId: string, deviceId: string, serverTime: number, heartbeatInterval: number, resumeToken: string, };

export type MessageUpdatedPayload = { message: Message, };

export type DeliveredPayload = { conversationId: string, messageIds: Array<string>, deliveredTo: string, upToSequence: number, timestamp: number, };

export type ReadReceiptPayload = { conversationId: string, readUpToSequence: number, readBy: string, timestamp: number, };

export type TypingPayload = { conversationId: string, userId: string, isTyping: boolean, };

export type PresenceBulkPayload = { presences: Array<Presence>, };

export type HeartbeatAckPayload = { serverTime: number, };

export type ServerFrame = { "type": "connected", "payload": ConnectedPayload } | { "type": "message.ack", "payload": MessageAck } | { "type": "message.new", "payload": Message } | { "type": "message.updated", "payload": MessageUpdatedPayload } | { "type": "message.delivered", "payload": DeliveredPayload } | { "type": "message.read_receipt", "payload": ReadReceiptPayload } | { "type": "typing.update", "payload": TypingPayload } | { "type": "presence.bulk", "payload": PresenceBulkPayload } | { "type": "presence.update", "payload": Presence } | { "type": "conversation.updated", "payload": Conversation } | { "type": "sync.result", "payload": SyncResponse } | { "type": "heartbeat.ack", "payload": HeartbeatAckPayload } | { "type": "error", "payload": ErrorBody };

export type ServerEnvelope = { id?: string, } & ({ "type": "connected", "payload": ConnectedPayload } | { "type": "message.ack", "payload": MessageAck } | { "type": "message.new", "payload": Message } | { "type": "message.updated", "payload": MessageUpdatedPayload } | { "type": "message.delivered", "payload": DeliveredPayload } | { "type": "message.read_receipt", "payload": ReadReceiptPayload } | { "type": "typing.update", "payload": TypingPayload } | { "type": "presence.bulk", "payload": PresenceBulkPayload } | { "type": "presence.update", "payload": Presence } | { "type": "conversation.updated", "payload": Conversation } | { "type": "sync.result", "payload": SyncResponse } | { "type": "heartbeat.ack", "payload": HeartbeatAckPayload } | { "type": "error", "payload": ErrorBody });
