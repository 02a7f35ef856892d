// Receipts and markers: the delivered/read markers of the other members (from receipt frames, and
// from their own messages, since writing moves the writer's read marker), the statuses of one's
// own messages they imply, and this device's `message.received` / `message.read` reports, kept
// until they can be sent.

import { maxStatus, statusFromMarkers } from './sdk-status.js';

/** @typedef {import('./types/proto.js').Message} Message */
/** @typedef {import('./types/proto.js').ReceiptsResponse} ReceiptsResponse */
/** @typedef {import('./sdk-timeline.js').IncomingMessage} IncomingMessage */
/** @typedef {import('./sdk-transport.js').ClientPayloads} ClientPayloads */
/** @typedef {import('./sdk-storage.js').Store} Store */
/** @typedef {import('./sdk-events.js').Emit} Emit */
/** @typedef {import('./sdk-conversations.js').Conversations} Conversations */

export class Receipts {
  /**
   * @param {object} deps
   * @param {string} deps.userId  this user
   * @param {Conversations} deps.conversations
   * @param {Store} deps.store
   * @param {(type: 'message.received' | 'message.read', payload: ClientPayloads['message.read']) => boolean} deps.send
   *   sends a frame when online; false when it could not be sent
   * @param {(method: string, path: string) => Promise<any>} deps.api  authenticated REST call
   * @param {Emit} deps.emit
   */
  constructor({ userId, conversations, store, send, api, emit }) {
    this.userId = userId;
    this.conversations = conversations;
    this.store = store;
    this.send = send;
    this.api = api;
    this.emit = emit;
  }

  /**
   * The other members of a conversation, or null when they are not all known (the server
   * truncates the participant list of large groups).
   * @param {string} conversationId
   */
  #otherMembers(conversationId) {
    const c = this.conversations.conversations.get(conversationId);
    if (!c || (c.memberCount && c.memberCount > c.participants.length)) return null;
    return c.participants.map((p) => p.userId).filter((id) => id !== this.userId);
  }

  /**
   * The status of one's own message `seq` from the receipts seen here; undefined when it cannot be
   * known (unconfirmed message, unknown members).
   * @param {string} conversationId
   * @param {number | null | undefined} seq
   */
  statusFor(conversationId, seq) {
    const c = this.conversations.conversations.get(conversationId);
    const others = this.#otherMembers(conversationId);
    if (!c || seq == null || !others) return undefined;
    return statusFromMarkers(seq, others, c.local.markers || {});
  }

  /**
   * Messages were taken in: a message from another member is also their read receipt for
   * everything before it (writing moves the sender's read marker, the server's rule).
   * @param {string} conversationId
   * @param {Array<Message | IncomingMessage>} list
   */
  noteWriters(conversationId, list) {
    const c = this.conversations.conversations.get(conversationId);
    if (!c) return;
    /** @type {Record<string, number>} */
    const wrote = {};
    for (const m of list) {
      if (m.senderId !== this.userId && m.sequenceNumber != null) wrote[m.senderId] = Math.max(wrote[m.senderId] || 0, m.sequenceNumber);
    }
    for (const [userId, seq] of Object.entries(wrote)) {
      const known = c.local.markers?.[userId]?.read || 0;
      if (seq > known) this.onMarker(conversationId, userId, 'read', seq);
    }
  }

  /**
   * A member's marker moved (`message.delivered`, `message.read_receipt`, or their own message).
   * One's own read marker (read on another device) moves the conversation's `lastReadSequence`.
   * @param {string} conversationId
   * @param {string} userId
   * @param {'delivered' | 'read'} kind
   * @param {number} upTo
   */
  onMarker(conversationId, userId, kind, upTo) {
    const c = this.conversations.conversations.get(conversationId);
    if (!c) return;
    if (userId === this.userId) {
      if (kind === 'read' && upTo > (c.lastReadSequence || 0)) {
        c.lastReadSequence = upTo; // read on another device
        c.local.readReported = Math.max(c.local.readReported || 0, upTo);
        this.conversations.persist(conversationId);
        this.emit('conversations', {});
      }
      return;
    }
    const markers = (c.local.markers ||= {});
    const m = (markers[userId] ||= { delivered: 0, read: 0 });
    m[kind] = Math.max(m[kind] || 0, upTo);
    if (kind === 'read') m.delivered = Math.max(m.delivered || 0, upTo);
    this.conversations.persist(conversationId);
    this.emit('receipt', { conversationId, userId, kind, upToSequence: upTo });
    // Upgrade the statuses of one's own messages.
    const changed = [];
    for (const msg of this.conversations.timeline(conversationId).list()) {
      if (msg.senderId !== this.userId || msg.sequenceNumber == null || msg.sequenceNumber > upTo) continue;
      const s = maxStatus(msg.status, this.statusFor(conversationId, msg.sequenceNumber));
      if (s && s !== msg.status) {
        msg.status = s;
        changed.push(msg);
        this.emit('message.status', { conversationId, messageId: msg.messageId, status: s });
      }
    }
    if (changed.length) {
      this.store.putMessages(changed.map((m) => ({ ...m }))).catch(() => {});
      this.emit('messages', { conversationId, reason: 'status' });
    }
  }

  /**
   * `GET /conversations/{id}/messages/{messageId}/receipts`: who has received and read a message.
   * @param {string} conversationId
   * @param {string} messageId
   * @returns {Promise<ReceiptsResponse>}
   */
  receipts(conversationId, messageId) {
    return this.api(
      'GET',
      `/conversations/${encodeURIComponent(conversationId)}/messages/${encodeURIComponent(messageId)}/receipts`,
    );
  }

  /**
   * Sends `message.received` up to the conversation's sync cursor, once per advance.
   * @param {string} conversationId
   */
  reportReceived(conversationId) {
    const c = this.conversations.conversations.get(conversationId);
    const t = this.conversations.timelines.get(conversationId);
    if (!c || !t) return;
    const upTo = t.syncedUpTo;
    if (upTo > (c.local.receivedReported || 0) && t.size > 0) {
      if (this.send('message.received', { conversationId, upToSequence: upTo })) {
        c.local.receivedReported = upTo;
      }
    }
  }

  /**
   * Marks a conversation read up to its newest message (`message.read`). Offline, the marker is
   * kept and reported on reconnect.
   * @param {string} conversationId
   */
  markRead(conversationId) {
    const c = this.conversations.conversations.get(conversationId);
    if (!c) return;
    const upTo = Math.max(this.conversations.timeline(conversationId).maxSeq, 0);
    if (upTo > (c.lastReadSequence || 0)) {
      c.lastReadSequence = upTo;
      this.emit('conversations', {});
    }
    if ((c.local.readReported || 0) < c.lastReadSequence) {
      if (this.send('message.read', { conversationId, upToSequence: c.lastReadSequence })) {
        c.local.readReported = c.lastReadSequence;
      }
    }
    this.conversations.persist(conversationId);
  }

  /** Sends the markers that could not be sent while offline (on every connection). */
  flush() {
    for (const [id, c] of this.conversations.conversations) {
      this.reportReceived(id);
      const local = c.local;
      if ((local.readReported || 0) < (c.lastReadSequence || 0) && c.lastReadSequence <= this.conversations.timeline(id).maxSeq) {
        if (this.send('message.read', { conversationId: id, upToSequence: c.lastReadSequence })) {
          local.readReported = c.lastReadSequence;
        }
      }
    }
  }
}
