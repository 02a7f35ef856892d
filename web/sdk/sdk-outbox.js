// The queue of one's own messages not yet acknowledged: when to (re)send them, when to give up.
// Pure: no browser dependency, time is passed in.

/** @typedef {import('./sdk-timeline.js').LocalMessage} LocalMessage */

/**
 * @typedef {{ message: LocalMessage, attempts: number, dueAt: number, state: 'pending' | 'failed' }} OutboxEntry
 */

/**
 * Own messages not yet acknowledged: when to (re)send them, and when to give up.
 * Attempts are counted only while connected; a message written offline waits without limit.
 */
export class Outbox {
  /** @param {{ ackTimeout?: number, maxAttempts?: number }} [options] */
  constructor({ ackTimeout = 4000, maxAttempts = 4 } = {}) {
    this.ackTimeout = ackTimeout;
    this.maxAttempts = maxAttempts;
    /** @type {Map<string, OutboxEntry>} by messageId, in the order added */
    this.entries = new Map();
  }

  /**
   * Queues a message to be sent as soon as possible.
   * @param {LocalMessage} message
   * @param {number} [now]
   */
  add(message, now = Date.now()) {
    if (!this.entries.has(message.messageId)) {
      this.entries.set(message.messageId, { message, attempts: 0, dueAt: now, state: 'pending' });
    }
  }

  /** @param {string} messageId */
  has(messageId) {
    return this.entries.has(messageId);
  }

  /**
   * Entries to send now (in the order they were added); each one counts as an attempt and is
   * due again after the ack timeout. Entries past `maxAttempts` become failed instead; those are
   * returned in `failed`.
   * @param {number} [now]
   */
  take(now = Date.now()) {
    /** @type {LocalMessage[]} */
    const send = [];
    /** @type {LocalMessage[]} */
    const failed = [];
    for (const entry of this.entries.values()) {
      if (entry.state !== 'pending' || entry.dueAt > now) continue;
      if (entry.attempts >= this.maxAttempts) {
        entry.state = 'failed';
        failed.push(entry.message);
        continue;
      }
      entry.attempts += 1;
      entry.dueAt = now + this.ackTimeout;
      send.push(entry.message);
    }
    return { send, failed };
  }

  /** The connection dropped: everything in flight is due again on the next connection. */
  disconnected() {
    for (const entry of this.entries.values()) {
      if (entry.state === 'pending') entry.dueAt = 0;
    }
  }

  /**
   * The server asked to wait (`RATE_LIMITED`): the message is due again later, not an attempt.
   * @param {string} messageId
   * @param {number} untilMs
   */
  delay(messageId, untilMs) {
    const entry = this.entries.get(messageId);
    if (entry && entry.state === 'pending') {
      entry.attempts = Math.max(0, entry.attempts - 1);
      entry.dueAt = untilMs;
    }
  }

  /**
   * Acknowledged: drops the entry. Returns the message, or undefined when it was not queued.
   * @param {string} messageId
   */
  ack(messageId) {
    const entry = this.entries.get(messageId);
    this.entries.delete(messageId);
    return entry?.message;
  }

  /**
   * Marks an entry failed now (a permanent error from the server).
   * @param {string} messageId
   */
  fail(messageId) {
    const entry = this.entries.get(messageId);
    if (entry) entry.state = 'failed';
    return entry?.message;
  }

  /**
   * Puts a failed entry back in the queue with a fresh attempt budget.
   * @param {string} messageId
   * @param {number} [now]
   */
  retry(messageId, now = Date.now()) {
    const entry = this.entries.get(messageId);
    if (!entry) return false;
    entry.state = 'pending';
    entry.attempts = 0;
    entry.dueAt = now;
    return true;
  }

  /** When the next pending entry falls due, or null. */
  nextDue() {
    /** @type {number | null} */
    let next = null;
    for (const entry of this.entries.values()) {
      if (entry.state === 'pending' && (next === null || entry.dueAt < next)) next = entry.dueAt;
    }
    return next;
  }

  pending() {
    return [...this.entries.values()].filter((e) => e.state === 'pending').map((e) => e.message);
  }
}
