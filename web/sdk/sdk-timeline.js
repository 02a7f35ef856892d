// Ordering and deduplication of one conversation's messages, and the sync cursor that detects gaps.
// Pure: no browser dependency.

import { maxStatus } from './sdk-status.js';
import { UpdateCursor, isNewer, takeChange } from './sdk-lifecycle.js';

/** @typedef {import('./types/proto.js').Message} Message */
/** @typedef {import('./types/proto.js').Content} Content */
/** @typedef {import('./sdk-status.js').Status} Status */

/**
 * A message as this device holds it: the wire `Message`, except that a message not acknowledged yet
 * has no `sequenceNumber`/`timestamp` (null), `status` is the SDK's spelling, and `localTime` is
 * when it was written here (own messages).
 * @typedef {Omit<Message, 'sequenceNumber' | 'timestamp' | 'status'> & {
 *   sequenceNumber: number | null,
 *   timestamp: number | null,
 *   status?: Status,
 *   localTime?: number,
 *   expiresInSeconds?: number,
 * }} LocalMessage
 */

/**
 * What a message coming in looks like: a wire message or a local one (`sequenceNumber` may be
 * absent).
 * @typedef {Omit<LocalMessage, 'sequenceNumber' | 'timestamp'> & {
 *   sequenceNumber?: number | null,
 *   timestamp?: number | null,
 * }} IncomingMessage
 */

/**
 * @typedef {{ added: boolean, changed: boolean, gap: boolean }} InsertResult
 */

/**
 * The identity of a message on the client: its sender and its `messageId`. The server scopes a
 * `messageId` to its sender, so two members may use the same `messageId` (even in the same
 * conversation) for two different messages; `messageId` alone identifies only one's own messages.
 * Returns a string usable as a map key (unambiguous whatever the ids contain).
 * @param {string} senderId
 * @param {string} messageId
 */
export function messageKey(senderId, messageId) {
  return JSON.stringify([senderId, messageId]);
}

/**
 * The messages of one conversation as this device knows them: ordered by sequenceNumber,
 * deduplicated by (senderId, messageId) (see `messageKey`), with pending (unacknowledged) messages
 * after the confirmed ones. One's own pending message has one's own `senderId` already, so its ack
 * and its echo by sync confirm it in place.
 *
 * `syncedUpTo` is the sync cursor: every message with a sequence number in (base, syncedUpTo] is
 * present. A message above `syncedUpTo + 1` means a gap, which the client closes by syncing from
 * `syncedUpTo`. `updates` is the update cursor: every change (edit, delete, reaction) up to
 * `updates.upTo` is applied; a held message takes a copy only when its `updateSequence` is higher.
 */
export class Timeline {
  /** @param {{ syncedUpTo?: number, updatesUpTo?: number }} [options] */
  constructor({ syncedUpTo = 0, updatesUpTo = 0 } = {}) {
    this.syncedUpTo = syncedUpTo;
    this.updates = new UpdateCursor(updatesUpTo);
    /** @type {Map<string, LocalMessage>} messageKey(senderId, messageId) -> message */
    this.byKey = new Map();
    /** @type {Map<number, string>} sequence number -> messageKey */
    this.bySeq = new Map();
    /** @type {string[]} messageKeys of unacknowledged messages, in the order written */
    this.pendingKeys = [];
  }

  get size() {
    return this.byKey.size;
  }

  /** Highest sequence number present, or 0. */
  get maxSeq() {
    let max = 0;
    for (const seq of this.bySeq.keys()) if (seq > max) max = seq;
    return max;
  }

  /** Lowest sequence number present, or null. */
  get minSeq() {
    /** @type {number | null} */
    let min = null;
    for (const seq of this.bySeq.keys()) if (min === null || seq < min) min = seq;
    return min;
  }

  /** True when a message above the cursor is present but one between is missing. */
  get hasGap() {
    return this.maxSeq > this.syncedUpTo;
  }

  /** True when older history exists below what is held (sequence numbers start at 1, gapless). */
  get hasOlder() {
    const min = this.minSeq;
    return min === null ? this.syncedUpTo > 0 : min > 1;
  }

  /**
   * The message `messageId` of `senderId`, if held.
   * @param {string} senderId
   * @param {string} messageId
   */
  get(senderId, messageId) {
    return this.byKey.get(messageKey(senderId, messageId));
  }

  /**
   * Adds or merges a message. Returns `{added, changed, gap}`: `added` for a message not seen
   * before, `changed` when anything visible changed, `gap` when a sequence number is missing
   * below this message.
   * @param {IncomingMessage} message
   * @returns {InsertResult}
   */
  insert(message) {
    const key = messageKey(message.senderId, message.messageId);
    const seq = message.sequenceNumber ?? null;
    const existing = this.byKey.get(key);
    if (existing) {
      let changed = false;
      if (existing.sequenceNumber == null && seq != null) {
        if (this.bySeq.has(seq)) return { added: false, changed: false, gap: false };
        this.pendingKeys = this.pendingKeys.filter((p) => p !== key);
        existing.sequenceNumber = seq;
        existing.timestamp = message.timestamp ?? existing.timestamp;
        this.bySeq.set(seq, key);
        changed = true;
      }
      const status = maxStatus(existing.status, message.status);
      if (status !== existing.status) {
        // A confirmed message leaves the pending/failed states for good.
        existing.status = status;
        changed = true;
      }
      if (existing.sequenceNumber != null && (existing.status === 'pending' || existing.status === 'failed')) {
        existing.status = 'sent';
        changed = true;
      }
      if (isNewer(existing, message)) {
        // Edited, deleted or reacted to since the copy held was taken.
        takeChange(existing, message);
        changed = true;
      }
      if (seq != null) this.#advance();
      return { added: false, changed, gap: seq != null && seq > this.syncedUpTo + 1 };
    }
    if (seq != null && this.bySeq.has(seq)) {
      // Same position, different message: the server never does this; keep what we have.
      return { added: false, changed: false, gap: false };
    }
    const copy = { ...message, sequenceNumber: seq, timestamp: message.timestamp ?? null };
    this.byKey.set(key, copy);
    if (seq == null) {
      this.pendingKeys.push(key);
      return { added: true, changed: true, gap: false };
    }
    this.bySeq.set(seq, key);
    this.#advance();
    return { added: true, changed: true, gap: seq > this.syncedUpTo + 1 };
  }

  /** Moves the cursor over every contiguous message above it. Returns true if it moved. */
  #advance() {
    const before = this.syncedUpTo;
    while (this.bySeq.has(this.syncedUpTo + 1)) this.syncedUpTo += 1;
    return this.syncedUpTo !== before;
  }

  /**
   * Declares that nothing at or below `seq` needs to be synced (used for a conversation this
   * device has no history of: it starts from a recent window instead of from the beginning).
   * @param {number} seq
   */
  skipTo(seq) {
    if (seq > this.syncedUpTo) {
      this.syncedUpTo = seq;
      this.#advance();
    }
  }

  /**
   * Drops the message `messageId` of `senderId`. Returns false when it was not held.
   * @param {string} senderId
   * @param {string} messageId
   */
  remove(senderId, messageId) {
    const key = messageKey(senderId, messageId);
    const m = this.byKey.get(key);
    if (!m) return false;
    this.byKey.delete(key);
    if (m.sequenceNumber != null) this.bySeq.delete(m.sequenceNumber);
    this.pendingKeys = this.pendingKeys.filter((p) => p !== key);
    return true;
  }

  /**
   * Every message: confirmed ones by sequence number, then pending ones in the order written.
   * @returns {LocalMessage[]}
   */
  list() {
    const keys = [...this.bySeq.entries()].sort(([a], [b]) => a - b).map(([, key]) => key);
    keys.push(...this.pendingKeys);
    // Every key in bySeq and pendingKeys is a key of byKey (insert and remove keep them in step).
    return keys.map((key) => /** @type {LocalMessage} */ (this.byKey.get(key)));
  }
}
