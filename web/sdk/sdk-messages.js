// Messages in: every message from any source (live `message.new`, acks of one's own, sync, history
// pages, local storage) goes through `ingest`, which orders and dedups it into the conversation's
// timeline (a message is identified by its sender and `messageId`), sets the statuses of one's own messages, persists, reports receipt and notices gaps
// in the sequence (a sync fills them). History: opening a conversation and loading older pages.

import { maxStatus, normalizeStatus } from './sdk-status.js';
import { WINDOW } from './sdk-conversations.js';

/** @typedef {import('./types/proto.js').Message} Message */
/** @typedef {import('./sdk-timeline.js').LocalMessage} LocalMessage */
/** @typedef {import('./sdk-timeline.js').IncomingMessage} IncomingMessage */
/** @typedef {import('./sdk-storage.js').Store} Store */
/** @typedef {import('./sdk-events.js').Emit} Emit */
/** @typedef {import('./sdk-conversations.js').Conversations} Conversations */
/** @typedef {import('./sdk-receipts.js').Receipts} Receipts */

/** How long a gap noticed on an ack may stay open before a sync is started (ms). */
export const GAP_GRACE = 1500;

export class Messages {
  /**
   * @param {object} deps
   * @param {string} deps.userId  this user
   * @param {Conversations} deps.conversations
   * @param {Receipts} deps.receipts
   * @param {Store} deps.store
   * @param {(method: string, path: string) => Promise<any>} deps.api  authenticated REST call
   * @param {() => boolean} deps.isOnline
   * @param {() => unknown} deps.resync  fetch what is missing (a gap, an unknown conversation)
   * @param {(conversationId: string, senderId: string) => void} deps.onArrived  a new message from
   *   another member arrived live (before the `message` event)
   * @param {Emit} deps.emit
   */
  constructor({ userId, conversations, receipts, store, api, isOnline, resync, onArrived, emit }) {
    this.userId = userId;
    this.conversations = conversations;
    this.receipts = receipts;
    this.store = store;
    this.api = api;
    this.isOnline = isOnline;
    this.resync = resync;
    this.onArrived = onArrived;
    this.emit = emit;
    /** @type {Set<string>} conversations whose stored history has been read */
    this.loadedFromStore = new Set();
    /** @type {Map<string, ReturnType<typeof setTimeout>>} conversationId -> gap check */
    this.gapTimers = new Map();
  }

  /**
   * Takes in messages from any source: orders, dedups, persists, acknowledges receipt and
   * detects gaps.
   * @param {string} conversationId
   * @param {Array<Message | IncomingMessage>} list  wire messages, or local ones (from the store, acks)
   * @param {{ live?: boolean, ack?: boolean, fromStore?: boolean, updated?: boolean }} [source]
   *   `updated`: changed messages (`message.updated`, sync `updates`)
   */
  ingest(conversationId, list, { live = false, ack = false, fromStore = false, updated = false } = {}) {
    if (!list.length) return;
    const t = this.conversations.timeline(conversationId);
    const c = this.conversations.conversations.get(conversationId);
    /** @type {LocalMessage[]} */
    const fresh = [];
    let changed = false;
    let gap = false;
    for (const raw of list) {
      /** @type {IncomingMessage} */
      const m = { ...raw, status: normalizeStatus(raw.status) };
      if (m.senderId === this.userId) {
        if (!fromStore) m.status = maxStatus(m.status || 'sent', this.receipts.statusFor(conversationId, m.sequenceNumber));
      } else {
        delete m.status;
      }
      const r = t.insert(m);
      if (r.changed) changed = true;
      if (r.gap) gap = true;
      const stored = t.get(m.senderId, m.messageId);
      if ((r.added || r.changed) && !fromStore && m.sequenceNumber != null && stored) fresh.push(stored);
      if (r.added && m.senderId !== this.userId && live && stored) {
        this.onArrived(conversationId, m.senderId);
        this.emit('message', { conversationId, message: stored });
      }
    }
    if (c) {
      this.receipts.noteWriters(conversationId, list);
      const max = t.maxSeq;
      if (max > (c.lastSequence || 0)) c.lastSequence = max;
      // One's own messages (from any device) are never unread.
      for (const m of list) {
        if (m.senderId === this.userId && m.sequenceNumber != null && m.sequenceNumber > (c.lastReadSequence || 0)) {
          c.lastReadSequence = m.sequenceNumber;
        }
      }
    } else if (live) {
      // A message for a conversation not known yet: sync brings its metadata (newConversations).
      this.resync();
    }
    if (fresh.length) this.store.putMessages(fresh.map((m) => ({ ...m }))).catch(() => {});
    if (c) this.conversations.persist(conversationId);
    if (changed) {
      const reason = live ? 'new' : ack ? 'ack' : updated ? 'updated' : 'load';
      this.emit('messages', { conversationId, reason });
    }
    this.receipts.reportReceived(conversationId);
    if (gap && !fromStore) {
      if (ack) this.#scheduleGapCheck(conversationId);
      else if (live) this.resync();
    }
  }

  /**
   * An ack can be ahead of a message of another member still on its way: sync only if the gap
   * is still there after `GAP_GRACE`.
   * @param {string} conversationId
   */
  #scheduleGapCheck(conversationId) {
    clearTimeout(this.gapTimers.get(conversationId));
    const timer = setTimeout(() => {
      this.gapTimers.delete(conversationId);
      if (this.conversations.timelines.get(conversationId)?.hasGap) this.resync();
    }, GAP_GRACE);
    this.gapTimers.set(conversationId, timer);
  }

  /**
   * Loads what this device has of a conversation (local storage first, then the newest page from
   * the server for fresh statuses).
   * @param {string} conversationId
   */
  async open(conversationId) {
    const t = this.conversations.timeline(conversationId);
    if (!this.loadedFromStore.has(conversationId)) {
      this.loadedFromStore.add(conversationId);
      const below = t.minSeq ?? t.syncedUpTo + 1;
      const stored = await this.store.getMessages(conversationId, below, WINDOW).catch(() => []);
      this.ingest(conversationId, stored, { fromStore: true });
    }
    if (this.isOnline()) {
      try {
        const page = await this.api('GET', `/conversations/${encodeURIComponent(conversationId)}/messages?limit=${WINDOW}`);
        this.ingest(conversationId, page.messages, {});
      } catch {
        /* offline: local history is what there is */
      }
    }
  }

  /**
   * Loads older history (local storage first, then `GET messages?before=`). Resolves to the
   * number of messages added; 0 means the beginning was reached (or nothing could be loaded).
   * @param {string} conversationId
   * @param {number} limit
   */
  async loadOlder(conversationId, limit) {
    const t = this.conversations.timeline(conversationId);
    if (!t.hasOlder) return 0;
    const below = t.minSeq ?? t.syncedUpTo + 1;
    const before = t.size;
    const stored = await this.store.getMessages(conversationId, below, limit).catch(() => []);
    // Local history is usable only if it continues right below what is shown.
    if (stored.length && stored[stored.length - 1].sequenceNumber === below - 1) {
      this.ingest(conversationId, stored, { fromStore: true });
    } else {
      const page = await this.api(
        'GET',
        `/conversations/${encodeURIComponent(conversationId)}/messages?before=${below}&limit=${limit}`,
      );
      this.ingest(conversationId, page.messages, {});
    }
    return t.size - before;
  }

  /** The client stopped: no gap checks left behind. */
  stopTimers() {
    for (const timer of this.gapTimers.values()) clearTimeout(timer);
    this.gapTimers.clear();
  }
}
