// Confab JavaScript SDK: native ES modules for browsers (and, for their pure parts, Node). This file
// is the public entry point; it re-exports the modules the SDK is made of:
//
//   sdk-client.js     ConfabClient (session, connection lifecycle, conversations, sending, sync,
//                     receipts, typing, presence) and deviceId
//   sdk-timeline.js   Timeline: ordering, deduplication and the sync cursor of one conversation
//   sdk-outbox.js     Outbox: the unsent queue and its retry policy
//   sdk-status.js     delivery statuses of one's own messages (the rule shared with the server)
//   sdk-storage.js    MemoryStore and IndexedDBStore
//   sdk-transport.js  REST calls, one WebSocket connection (Socket), ConfabError, backoffDelay
//
// Wire types (User, Conversation, Message, frames, …) are declared in types/proto.d.ts, generated
// from the Rust protocol crate.
//
//   import { ConfabClient } from '/confab.js';
//   const session = await ConfabClient.login(location.origin, { username, password });
//   const client = new ConfabClient({ session });
//   client.addEventListener('message', (e) => console.log(e.detail.message));
//   await client.start();
//
// The full API is documented in docs/web-sdk.md.

export { ConfabClient, deviceId } from './sdk-client.js';
export { Timeline } from './sdk-timeline.js';
export { Outbox } from './sdk-outbox.js';
export { maxStatus, normalizeStatus, ownMessageStatus, statusFromMarkers } from './sdk-status.js';
export { MemoryStore, IndexedDBStore } from './sdk-storage.js';
export { ConfabError, backoffDelay } from './sdk-transport.js';
