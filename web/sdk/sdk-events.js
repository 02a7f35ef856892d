// The client's events: the `detail` of each one (`ClientEvents`), the connection states, and the
// typed `emit` the client hands to its parts so that each of them fires events on the client.

/** @typedef {import('./types/proto.js').User} User */
/** @typedef {import('./types/proto.js').BlockedUser} BlockedUser */
/** @typedef {import('./types/proto.js').PresenceStatus} PresenceStatus */
/** @typedef {import('./sdk-timeline.js').LocalMessage} LocalMessage */
/** @typedef {import('./sdk-status.js').Status} Status */
/** @typedef {import('./sdk-conversations.js').LocalConversation} LocalConversation */

/**
 * `idle` → `connecting` → `online`; `reconnecting` after a drop; `offline` while the browser is
 * offline; `closed` after `stop()`.
 * @typedef {'idle' | 'connecting' | 'online' | 'reconnecting' | 'offline' | 'closed'} ConnectionState
 */

/**
 * The events a client fires whose names are plain words (see ClientEvents).
 * @typedef {{
 *   connection: { state: ConnectionState, attempt?: number, delay?: number, code?: number, connectionId?: string },
 *   message: { conversationId: string, message: LocalMessage },
 *   messages: { conversationId: string, reason: 'new' | 'ack' | 'load' | 'send' | 'status' | 'discard' | 'updated' | 'expired' },
 *   receipt: { conversationId: string, userId: string, kind: 'delivered' | 'read', upToSequence: number },
 *   typing: { conversationId: string, userId: string, isTyping: boolean },
 *   presence: { userId: string, status: PresenceStatus, lastSeen: number | null },
 *   conversations: {},
 *   conversation: { conversation: LocalConversation, isNew: boolean },
 *   user: { user: User },
 *   blocks: { blocks: BlockedUser[] },
 *   synced: {},
 *   unauthorized: { error: unknown },
 *   signedout: { reason: 'revoked' | 'unauthorized' | 'banned', error: unknown, code?: number },
 *   error: { error: unknown },
 * }} PlainEvents
 */

/**
 * The events whose names hold a dot (on one line: a declaration emitted from a multi-line typedef
 * would keep the comment's `*` before a quoted key).
 * @typedef {{ 'message.status': { conversationId: string, messageId: string, status: Status, error?: string, reason?: string }, 'conversation.removed': { conversationId: string } }} DottedEvents
 */

/**
 * The events a client fires (each a `CustomEvent`) and their `detail`; see docs/web-sdk.md.
 * @typedef {PlainEvents & DottedEvents} ClientEvents
 */

/**
 * Fires one of the client's events.
 * @typedef {<K extends keyof ClientEvents>(type: K, detail: ClientEvents[K]) => void} Emit
 */

/**
 * An `Emit` that dispatches `CustomEvent(type, {detail})` on `target`.
 * @param {EventTarget} target
 * @returns {Emit}
 */
export function emitter(target) {
  return (type, detail) => {
    target.dispatchEvent(new CustomEvent(type, { detail }));
  };
}
