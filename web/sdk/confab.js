// Confab JavaScript SDK: native ES modules for browsers (and, for their pure parts, Node). This file
// is the public entry point; it re-exports the modules the SDK is made of:
//
//   sdk-client.js         ConfabClient: composes the parts below into the client's API; deviceId
//   sdk-session.js        register/login, the saved session, the device id
//   sdk-connection.js     the connection lifecycle: state, reconnect with backoff, online/offline
//   sdk-conversations.js  the conversations, their timelines and local state; create, join, leave
//   sdk-users.js          user profiles (cache, directory search)
//   sdk-messages.js       taking messages in (order, dedup, persist, gaps) and history
//   sdk-sending.js        writing messages: the outbox on the wire, acks, send errors
//   sdk-sync.js           sync from each conversation's cursor (rounds, coalescing)
//   sdk-lifecycle.js      replies, edits, deletes, reactions; changed messages in (update cursor)
//   sdk-receipts.js       delivered/read markers, own-message statuses, received/read reports
//   sdk-presence.js       presence and typing
//   sdk-blocks.js         the users this user blocks; blocking and unblocking
//   sdk-search.js         message search; snippetParts to render snippets without innerHTML
//   sdk-attachments.js    uploads (progress, abort), downloads and thumbnails as blobs or object
//                         URLs; the content linking an upload (attachmentContent) and its type
//   sdk-push.js           push subscriptions (Web Push: applicationServerKey, subscribeWebPush)
//                         and muting conversations (isMuted)
//   sdk-events.js         the events the client fires and their details (ClientEvents)
//   sdk-timeline.js       Timeline: ordering, deduplication by (senderId, messageId), the sync
//                         cursor of one conversation; messageKey
//   sdk-outbox.js         Outbox: the unsent queue and its retry policy
//   sdk-status.js         delivery statuses of one's own messages (the rule shared with the server)
//   sdk-storage.js        MemoryStore and IndexedDBStore
//   sdk-server.js         ServerApi: the server API of application backends (an API key; Node)
//   sdk-transport.js      REST calls, one WebSocket connection (Socket), ConfabError, backoffDelay
//
// Wire types (User, Conversation, Message, frames, …) are declared in types/proto.d.ts, generated
// from the Rust protocol crate.
//
//   import { ConfabClient } from '/sdk/confab.js';
//   const session = await ConfabClient.login(location.origin, { username, password });
//   const client = new ConfabClient({ session });
//   client.addEventListener('message', (e) => console.log(e.detail.message));
//   await client.start();
//
// The full API is documented in docs/web-sdk.md.

export { ConfabClient, deviceId } from './sdk-client.js';
export { Timeline, messageKey } from './sdk-timeline.js';
export { UpdateCursor, isNewer, takeChange } from './sdk-lifecycle.js';
export { Outbox } from './sdk-outbox.js';
export { maxStatus, normalizeStatus, ownMessageStatus, statusFromMarkers } from './sdk-status.js';
export { MemoryStore, IndexedDBStore } from './sdk-storage.js';
export { ConfabError, backoffDelay } from './sdk-transport.js';
export { Search, snippetParts } from './sdk-search.js';
export { Push, applicationServerKey, isMuted } from './sdk-push.js';
export { SYSTEM_USER_ID, isSystemMessage } from './sdk-users.js';
export { ServerApi } from './sdk-server.js';
export {
  Attachments,
  attachmentContent,
  attachmentInfo,
  attachmentMessageType,
  formatBytes,
  objectUrl,
} from './sdk-attachments.js';
