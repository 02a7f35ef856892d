// Disappearing messages on this device: a message whose `expiresAt` has passed is shown as the
// tombstone the server turns it into, at the moment it expires, without waiting for the sweeper's
// `message.updated` (which follows within the server's sweep interval and then replaces the local
// copy, its `updateSequence` being higher). What it said is dropped from memory and local storage.

/** @typedef {import('./sdk-timeline.js').LocalMessage} LocalMessage */
/** @typedef {import('./sdk-conversations.js').Conversations} Conversations */
/** @typedef {import('./sdk-storage.js').Store} Store */
/** @typedef {import('./sdk-events.js').Emit} Emit */

/**
 * Turns `m` into a tombstone if it has expired by `now`; returns whether it did.
 * @param {LocalMessage} m
 * @param {number} now
 */
export function expire(m, now) {
  if (!m.expiresAt || m.expiresAt > now || m.deleted) return false;
  m.content = { type: 'deleted' };
  m.deleted = true;
  delete m.replyTo;
  delete m.replyToSequence;
  delete m.editedAt;
  delete m.reactions;
  return true;
}

/**
 * The soonest expiry after `now` among `messages`, or null.
 * @param {LocalMessage[]} messages
 * @param {number} now
 */
export function nextExpiry(messages, now) {
  let next = null;
  for (const m of messages) {
    if (m.expiresAt && m.expiresAt > now && !m.deleted && (next === null || m.expiresAt < next)) next = m.expiresAt;
  }
  return next;
}

/** One timer per conversation, set for its soonest expiry. */
export class ExpiryTimers {
  /**
   * @param {{ conversations: Conversations, store: Store, emit: Emit, now?: () => number }} deps
   */
  constructor({ conversations, store, emit, now = Date.now }) {
    this.conversations = conversations;
    this.store = store;
    this.emit = emit;
    this.now = now;
    /** @type {Map<string, { at: number, timer: ReturnType<typeof setTimeout> }>} */
    this.timers = new Map();
  }

  /**
   * Expires what is due in a conversation now and sets its timer for the next expiry.
   * @param {string} conversationId
   */
  watch(conversationId) {
    const now = this.now();
    const messages = this.conversations.timeline(conversationId).list();
    const expired = messages.filter((m) => expire(m, now));
    if (expired.length) {
      this.store.putMessages(expired.filter((m) => m.sequenceNumber != null)).catch(() => {});
      this.emit('messages', { conversationId, reason: 'expired' });
    }
    const at = nextExpiry(messages, now);
    const held = this.timers.get(conversationId);
    if (held && held.at === at) return;
    if (held) clearTimeout(held.timer);
    this.timers.delete(conversationId);
    if (at === null) return;
    // Timers fire late, never early; +5 ms keeps `expiresAt <= now` true when it fires.
    const timer = setTimeout(() => {
      this.timers.delete(conversationId);
      this.watch(conversationId);
    }, Math.min(at - now + 5, 2 ** 31 - 1));
    this.timers.set(conversationId, { at, timer });
  }

  /** The client stopped. */
  stop() {
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
