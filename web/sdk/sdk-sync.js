// Sync: catching up every conversation from its cursor with the WebSocket `sync` frame, in rounds
// while the server has more (or tells of conversations new to this device), bounded; concurrent
// calls coalesce into one more round. `syncRequest` assembles the request and `syncFollowUp`
// picks the next round's conversations (both pure).

import { ConfabError } from './sdk-transport.js';

/** @typedef {import('./types/proto.js').Conversation} Conversation */
/** @typedef {import('./types/proto.js').SyncRequest} SyncRequest */
/** @typedef {import('./types/proto.js').SyncResponse} SyncResponse */
/** @typedef {import('./types/proto.js').SyncConversation} SyncConversation */
/** @typedef {import('./sdk-events.js').Emit} Emit */

/** Bound on sync rounds per call (a conversation with more left is synced by the next one). */
export const SYNC_ROUNDS = 20;
/** Messages asked for per conversation and round. */
export const SYNC_LIMIT = 200;

/**
 * The `sync` request for these conversations: each one from its cursor (the highest sequence
 * number up to which this device misses nothing) and, with `updateCursor`, its update cursor (the
 * changes since come back as `updates`).
 * @param {Iterable<string>} conversationIds
 * @param {(conversationId: string) => number} cursor
 * @param {number} [limit]
 * @param {(conversationId: string) => number} [updateCursor]
 * @returns {SyncRequest}
 */
export function syncRequest(conversationIds, cursor, limit = SYNC_LIMIT, updateCursor) {
  const conversations = [...conversationIds].map((id) =>
    updateCursor
      ? { conversationId: id, lastSequence: cursor(id), lastUpdateSequence: updateCursor(id) }
      : { conversationId: id, lastSequence: cursor(id) },
  );
  return { conversations, limit };
}

/**
 * The conversations a sync reply leaves to ask for in the next round: those with more messages
 * (`hasMore`) and those new to this device (from the beginning of their window).
 * @param {SyncResponse} result
 * @param {(conversationId: string) => boolean} known  whether this device holds the conversation
 * @returns {string[]}
 */
export function syncFollowUp(result, known) {
  const want = (result.newConversations || []).map((c) => c.conversationId);
  for (const r of result.conversations || []) {
    if (r.hasMore && known(r.conversationId) && !want.includes(r.conversationId)) want.push(r.conversationId);
  }
  return want;
}

export class Sync {
  /**
   * @param {object} deps
   * @param {() => Iterable<string>} deps.conversationIds  the conversations held here
   * @param {(conversationId: string) => number} deps.cursor  a conversation's `syncedUpTo`
   * @param {(conversationId: string) => number} [deps.updateCursor]  its update cursor
   * @param {(payload: SyncRequest) => Promise<SyncResponse>} deps.request  the `sync` frame
   * @param {(c: Conversation) => void} deps.addConversation  a conversation new to this device
   * @param {(r: SyncConversation) => boolean} deps.apply  takes in one conversation's messages;
   *   false when the conversation is not held here
   * @param {() => boolean} deps.isOnline
   * @param {Emit} deps.emit  `conversations` after each round, `synced` at the end, `error`
   */
  constructor({ conversationIds, cursor, updateCursor, request, addConversation, apply, isOnline, emit }) {
    this.deps = { conversationIds, cursor, updateCursor, request, addConversation, apply, isOnline };
    this.emit = emit;
    /** @type {Promise<void> | null} the sync under way */
    this.syncing = null;
    this.again = false;
  }

  /**
   * Syncs every conversation from its cursor, repeating while the server has more. A call while
   * a sync is under way returns it and makes it run once more.
   * @returns {Promise<void>}
   */
  resync() {
    if (this.syncing) {
      this.again = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      try {
        do {
          this.again = false;
          await this.#syncOnce();
        } while (this.again && this.deps.isOnline());
      } catch (err) {
        if (!(err instanceof ConfabError && err.code === 'OFFLINE')) this.emit('error', { error: err });
      } finally {
        this.syncing = null;
        this.emit('synced', {});
      }
    })();
    return this.syncing;
  }

  async #syncOnce() {
    const d = this.deps;
    let want = [...d.conversationIds()];
    for (let round = 0; round < SYNC_ROUNDS && want.length && d.isOnline(); round++) {
      const result = await d.request(syncRequest(want, d.cursor, SYNC_LIMIT, d.updateCursor));
      for (const c of result.newConversations || []) d.addConversation(c);
      const held = new Set();
      for (const r of result.conversations || []) {
        if (d.apply(r)) held.add(r.conversationId);
      }
      want = syncFollowUp(result, (id) => held.has(id));
      this.emit('conversations', {});
    }
  }
}
