// Messages out: a message written here shows at once as `pending`, waits in the `Outbox` (kept in
// local storage) and is sent, and sent again with the same `messageId`, while connected until
// `message.ack` confirms it; errors for a send delay it (rate limits, server trouble) or fail it.

import { uuid } from './sdk-session.js';

/** @typedef {import('./types/proto.js').Content} Content */
/** @typedef {import('./types/proto.js').MessageAck} MessageAck */
/** @typedef {import('./types/proto.js').ErrorBody} ErrorBody */
/** @typedef {import('./sdk-transport.js').ClientPayloads} ClientPayloads */
/** @typedef {import('./sdk-timeline.js').LocalMessage} LocalMessage */
/** @typedef {import('./sdk-timeline.js').IncomingMessage} IncomingMessage */
/** @typedef {import('./sdk-status.js').Status} Status */
/** @typedef {import('./sdk-outbox.js').Outbox} Outbox */
/** @typedef {import('./sdk-storage.js').Store} Store */
/** @typedef {import('./sdk-events.js').Emit} Emit */
/** @typedef {import('./sdk-conversations.js').Conversations} Conversations */

/**
 * The request id of a `message.send` frame: the message and the attempt, so that an error frame
 * answering it names the message (`sendFrameId`, `sentMessageId`).
 * @param {string} messageId
 * @param {number} attempt
 */
export function sendFrameId(messageId, attempt) {
  return `s:${messageId}:${attempt}`;
}

/**
 * The message a frame id made by `sendFrameId` names; null for any other id.
 * @param {string | undefined} id
 */
export function sentMessageId(id) {
  const match = /^s:(.*):\d+$/.exec(id || '');
  return match ? match[1] : null;
}

export class Sender {
  /**
   * @param {object} deps
   * @param {string} deps.userId  this user
   * @param {Outbox} deps.outbox
   * @param {Conversations} deps.conversations
   * @param {Store} deps.store
   * @param {(type: 'message.send', payload: ClientPayloads['message.send'], id: string) => boolean} deps.send
   *   sends a frame when online; false when it could not be sent
   * @param {() => boolean} deps.isOnline
   * @param {(conversationId: string, list: IncomingMessage[], source: { ack: true }) => void} deps.ingest
   *   takes in an acknowledged message (see `Messages.ingest`)
   * @param {Emit} deps.emit
   */
  constructor({ userId, outbox, conversations, store, send, isOnline, ingest, emit }) {
    this.userId = userId;
    this.outbox = outbox;
    this.conversations = conversations;
    this.store = store;
    this.send = send;
    this.isOnline = isOnline;
    this.ingest = ingest;
    this.emit = emit;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
  }

  /**
   * Takes back the unsent messages kept in local storage (pending ones are queued again).
   * @param {LocalMessage[]} messages
   */
  restore(messages) {
    for (const m of messages) {
      this.conversations.timeline(m.conversationId).insert(m);
      this.outbox.add(m, 0);
      if (m.status !== 'pending') this.outbox.fail(m.messageId);
    }
  }

  /**
   * Writes a message: it shows at once as `pending` and is sent when possible.
   * @param {string} conversationId
   * @param {Content} content
   * @param {string} [replyTo]  the `messageId` of a message of the conversation this one answers
   * @param {number} [expiresInSeconds]  a disappearing message: seconds from storage to expiry
   * @returns {LocalMessage}
   */
  write(conversationId, content, replyTo, expiresInSeconds) {
    /** @type {LocalMessage} */
    const message = {
      messageId: uuid(),
      conversationId,
      senderId: this.userId,
      content,
      sequenceNumber: null,
      timestamp: null,
      localTime: Date.now(),
      status: 'pending',
      updateSequence: 0,
    };
    if (replyTo) message.replyTo = replyTo;
    if (expiresInSeconds) message.expiresInSeconds = expiresInSeconds;
    this.conversations.timeline(conversationId).insert(message);
    this.outbox.add(message);
    this.store.putOutbox(message).catch(() => {});
    this.emit('messages', { conversationId, reason: 'send' });
    this.flush();
    return message;
  }

  /**
   * Puts a failed message back in the queue.
   * @param {string} messageId
   */
  retry(messageId) {
    const m = this.outbox.entries.get(messageId)?.message;
    if (!m || !this.outbox.retry(messageId)) return false;
    this.#setStatus(m.conversationId, messageId, 'pending');
    this.flush();
    return true;
  }

  /**
   * Drops a failed message that will not be sent.
   * @param {string} messageId
   */
  discard(messageId) {
    const m = this.outbox.ack(messageId);
    if (!m) return false;
    this.conversations.timeline(m.conversationId).remove(this.userId, messageId);
    this.store.deleteOutbox(messageId).catch(() => {});
    this.emit('messages', { conversationId: m.conversationId, reason: 'discard' });
    return true;
  }

  /** Sends what is due (when online) and schedules the next resend. */
  flush() {
    clearTimeout(this.timer);
    if (!this.isOnline()) return;
    const { send, failed } = this.outbox.take(Date.now());
    for (const m of failed) this.#setStatus(m.conversationId, m.messageId, 'failed');
    for (const m of send) {
      const attempts = this.outbox.entries.get(m.messageId)?.attempts ?? 0;
      /** @type {ClientPayloads['message.send']} */
      const payload = { messageId: m.messageId, conversationId: m.conversationId, content: m.content };
      if (m.replyTo) payload.replyTo = m.replyTo;
      if (m.expiresInSeconds) payload.expiresInSeconds = m.expiresInSeconds;
      this.send('message.send', payload, sendFrameId(m.messageId, attempts));
    }
    this.#schedule();
  }

  #schedule() {
    clearTimeout(this.timer);
    const next = this.outbox.nextDue();
    if (next === null || !this.isOnline()) return;
    this.timer = setTimeout(() => this.flush(), Math.max(0, next - Date.now()) + 5);
  }

  /** The connection went away: attempts stop counting until the next one. */
  disconnected() {
    clearTimeout(this.timer);
    this.outbox.disconnected();
  }

  /** The client stopped. */
  stopTimers() {
    clearTimeout(this.timer);
  }

  /**
   * `message.ack`: the message is stored with its sequence number.
   * @param {MessageAck} ack
   */
  onAck(ack) {
    const queued = this.outbox.ack(ack.messageId);
    this.store.deleteOutbox(ack.messageId).catch(() => {});
    // An ack names one's own message: the same `messageId` may be another member's message too.
    const local = this.conversations.timeline(ack.conversationId).get(this.userId, ack.messageId) || queued;
    if (!local) return;
    // The expiry counts from when the server stored it, as on every other device.
    if (local.expiresInSeconds) local.expiresAt = ack.timestamp + local.expiresInSeconds * 1000;
    const c = this.conversations.conversations.get(ack.conversationId);
    if (c) c.lastReadSequence = Math.max(c.lastReadSequence || 0, ack.sequenceNumber); // own messages are read
    this.ingest(
      ack.conversationId,
      [{ ...local, sequenceNumber: ack.sequenceNumber, timestamp: ack.timestamp, status: 'sent' }],
      { ack: true },
    );
  }

  /**
   * An error frame: if it answers a `message.send`, the message waits (`RATE_LIMITED`, server
   * trouble) or fails. Returns false when the error is not about a send.
   * @param {string | undefined} id
   * @param {ErrorBody} p
   */
  onError(id, p) {
    const messageId = sentMessageId(id);
    if (messageId === null) return false;
    if (p.error === 'RATE_LIMITED' || p.error === 'UNAVAILABLE' || p.error === 'INTERNAL_ERROR') {
      this.outbox.delay(messageId, Date.now() + (p.retryAfter || 1) * 1000);
      this.#schedule();
      return true;
    }
    const message = this.outbox.fail(messageId);
    if (message) this.#setStatus(message.conversationId, messageId, 'failed', { error: p.error, reason: p.message });
    return true;
  }

  /**
   * @param {string} conversationId
   * @param {string} messageId
   * @param {Status} status
   * @param {{ error?: string, reason?: string }} [extra]  why a message failed
   */
  #setStatus(conversationId, messageId, status, extra = {}) {
    const m = this.conversations.timeline(conversationId).get(this.userId, messageId);
    if (!m) return;
    m.status = status;
    if (m.sequenceNumber == null) this.store.putOutbox(m).catch(() => {});
    else this.store.putMessages([m]).catch(() => {});
    this.emit('message.status', { conversationId, messageId, status, ...extra });
    this.emit('messages', { conversationId, reason: 'status' });
  }
}
