// The message lifecycle on the client: replying, editing, deleting for everyone and reacting (over
// the WebSocket when connected, else REST), and taking in changed messages from every source
// (`message.updated`, the replies to this device's own requests, sync `updates`) so that the
// timeline and local storage converge to the server's state whatever order they arrive in:
// a copy replaces the one held only when its `updateSequence` is higher, and each conversation's
// update cursor (`UpdateCursor`) moves over contiguous update sequences only, so a change that
// went missing is fetched by the next sync (`lastUpdateSequence`).

/** @typedef {import('./types/proto.js').Message} Message */
/** @typedef {import('./types/proto.js').Content} Content */
/** @typedef {import('./types/proto.js').SyncConversation} SyncConversation */
/** @typedef {import('./sdk-timeline.js').LocalMessage} LocalMessage */
/** @typedef {import('./sdk-storage.js').Store} Store */
/** @typedef {import('./sdk-events.js').Emit} Emit */
/** @typedef {import('./sdk-conversations.js').Conversations} Conversations */

/** How long a hole in the update sequence may stay open before a sync is started (ms). */
export const UPDATE_GAP_GRACE = 1500;

/** The fields a change sets; one absent from the newer copy is gone (a tombstone has no reactions). */
export const CHANGED_FIELDS = /** @type {const} */ ([
  'content',
  'editedAt',
  'deleted',
  'reactions',
  'replyTo',
  'replyToSequence',
  'updateSequence',
]);

/**
 * Whether `incoming` is a newer state of the message `held`.
 * @param {{ updateSequence?: number }} held
 * @param {{ updateSequence?: number }} incoming
 */
export function isNewer(held, incoming) {
  return (incoming.updateSequence || 0) > (held.updateSequence || 0);
}

/**
 * Copies the state `incoming` carries onto `held` (dropping what it no longer has).
 * @param {Record<string, any>} held
 * @param {Record<string, any>} incoming
 */
export function takeChange(held, incoming) {
  for (const field of CHANGED_FIELDS) {
    if (incoming[field] === undefined || incoming[field] === null) delete held[field];
    else held[field] = incoming[field];
  }
}

/**
 * A conversation's update cursor: every change up to `upTo` has been applied here. Changes seen
 * beyond a hole are remembered, and the cursor moves over them once the hole fills.
 */
export class UpdateCursor {
  /** @param {number} [upTo] */
  constructor(upTo = 0) {
    this.upTo = upTo;
    /** @type {Set<number>} */
    this.ahead = new Set();
  }

  /** True while a change above the cursor was seen but one between is missing. */
  get hasGap() {
    return this.ahead.size > 0;
  }

  /**
   * A change with this update sequence was applied. Returns true while a hole is open below it.
   * @param {number} updateSequence
   */
  saw(updateSequence) {
    if (updateSequence > this.upTo) this.ahead.add(updateSequence);
    while (this.ahead.delete(this.upTo + 1)) this.upTo += 1;
    return this.hasGap;
  }

  /**
   * Sync applied every change up to `upTo` (the cursor a sync result hands back).
   * @param {number} upTo
   */
  jump(upTo) {
    if (upTo <= this.upTo) return;
    this.upTo = upTo;
    for (const seen of [...this.ahead]) if (seen <= upTo) this.ahead.delete(seen);
    this.saw(0);
  }
}

export class Lifecycle {
  /**
   * @param {object} deps
   * @param {Conversations} deps.conversations
   * @param {Store} deps.store
   * @param {(method: string, path: string, body?: unknown) => Promise<any>} deps.api  REST
   * @param {(type: any, payload: any) => Promise<any>} deps.request  a WebSocket request (rejects
   *   with `OFFLINE` when not connected)
   * @param {() => boolean} deps.isOnline
   * @param {(conversationId: string, list: Message[], source: { updated: true }) => void} deps.ingest
   *   takes in a message of the range the timeline holds (see `Messages.ingest`)
   * @param {() => unknown} deps.resync
   * @param {Emit} deps.emit
   */
  constructor({ conversations, store, api, request, isOnline, ingest, resync, emit }) {
    this.deps = { conversations, store, api, request, isOnline, ingest, resync };
    this.emit = emit;
    /** @type {Map<string, ReturnType<typeof setTimeout>>} conversationId -> update gap check */
    this.gapTimers = new Map();
  }

  /**
   * Edits one's own message: the new text (of a text message, or the caption of an attachment).
   * @param {string} conversationId
   * @param {string} messageId
   * @param {string} text
   */
  async edit(conversationId, messageId, text) {
    const held = this.deps.conversations.timeline(conversationId).get(this.#me(), messageId);
    /** @type {Content} */
    const content = held && held.content.type !== 'text' && held.content.type !== 'deleted'
      ? { ...held.content, text }
      : { type: 'text', text };
    return this.#change(
      () => this.deps.request('message.edit', { conversationId, messageId, content }),
      () => this.deps.api('PATCH', messagePath(conversationId, messageId), { content }),
    );
  }

  /**
   * Deletes a message for everyone (one's own, or any as a group admin).
   * @param {string} conversationId
   * @param {string} messageId
   * @param {string} [senderId]  whose message, when several senders used `messageId` here
   */
  async remove(conversationId, messageId, senderId) {
    const payload = senderId ? { conversationId, messageId, senderId } : { conversationId, messageId };
    return this.#change(
      () => this.deps.request('message.delete', payload),
      () => this.deps.api('DELETE', messagePath(conversationId, messageId) + senderQuery(senderId)),
    );
  }

  /**
   * Adds (`add`) or removes one's reaction.
   * @param {string} conversationId
   * @param {string} messageId
   * @param {string} emoji
   * @param {boolean} add
   * @param {string} [senderId]
   */
  async react(conversationId, messageId, emoji, add, senderId) {
    const payload = senderId ? { conversationId, messageId, emoji, senderId } : { conversationId, messageId, emoji };
    const path = `${messagePath(conversationId, messageId)}/reactions/${encodeURIComponent(emoji)}${senderQuery(senderId)}`;
    return this.#change(
      () => this.deps.request(add ? 'reaction.add' : 'reaction.remove', payload),
      () => this.deps.api(add ? 'PUT' : 'DELETE', path),
    );
  }

  /**
   * A live `message.updated` (or the reply to one of this device's requests).
   * @param {Message} message
   */
  onUpdated(message) {
    this.#take(message.conversationId, [message]);
    const t = this.deps.conversations.timeline(message.conversationId);
    if (t.updates.saw(message.updateSequence || 0)) this.#scheduleGapCheck(message.conversationId);
    this.deps.conversations.persist(message.conversationId);
  }

  /**
   * The `updates` of a sync result and the update cursor it hands back.
   * @param {SyncConversation} r
   */
  applySync(r) {
    if (!r.updates) return;
    this.#take(r.conversationId, r.updates);
    this.deps.conversations.timeline(r.conversationId).updates.jump(r.lastUpdateSequence || 0);
    this.deps.conversations.persist(r.conversationId);
  }

  /** The client stopped: no gap checks left behind. */
  stopTimers() {
    for (const timer of this.gapTimers.values()) clearTimeout(timer);
    this.gapTimers.clear();
  }

  /**
   * Changed messages into the timeline when they are in the range it holds, else straight into
   * local storage (an older page loaded later then shows the current state).
   * @param {string} conversationId
   * @param {Message[]} list
   */
  #take(conversationId, list) {
    const t = this.deps.conversations.timeline(conversationId);
    const lowest = t.minSeq ?? t.syncedUpTo + 1;
    const shown = list.filter((m) => t.get(m.senderId, m.messageId) || m.sequenceNumber >= lowest);
    const below = list.filter((m) => !shown.includes(m));
    if (shown.length) this.deps.ingest(conversationId, shown, { updated: true });
    // A change carries no delivery status; the stored copy keeps none either.
    const stored = below.map(({ status: _status, ...m }) => m);
    if (below.length) this.deps.store.putMessages(stored).catch(() => {});
  }

  /**
   * Runs a change over the WebSocket, or REST when not connected; the changed message is taken in
   * at once (other devices get it as `message.updated`).
   * @param {() => Promise<{ message: Message }>} ws
   * @param {() => Promise<Message>} http
   * @returns {Promise<Message>}
   */
  async #change(ws, http) {
    const message = this.deps.isOnline() ? (await ws()).message : await http();
    this.onUpdated(message);
    return message;
  }

  /** @param {string} conversationId */
  #scheduleGapCheck(conversationId) {
    clearTimeout(this.gapTimers.get(conversationId));
    const timer = setTimeout(() => {
      this.gapTimers.delete(conversationId);
      if (this.deps.conversations.timelines.get(conversationId)?.updates.hasGap) this.deps.resync();
    }, UPDATE_GAP_GRACE);
    this.gapTimers.set(conversationId, timer);
  }

  #me() {
    return this.deps.conversations.userId;
  }
}

/** @param {string} conversationId @param {string} messageId */
function messagePath(conversationId, messageId) {
  return `/conversations/${encodeURIComponent(conversationId)}/messages/${encodeURIComponent(messageId)}`;
}

/** @param {string | undefined} senderId */
function senderQuery(senderId) {
  return senderId ? `?senderId=${encodeURIComponent(senderId)}` : '';
}
