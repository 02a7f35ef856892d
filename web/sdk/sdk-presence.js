// Presence and typing: who is online, away or offline (and since when), this user's `away`, and
// typing indicators both ways (sending `typing.start`/`typing.stop` from composer activity,
// tracking who is typing with a fallback expiry).

/** @typedef {import('./types/proto.js').Presence} Presence */
/** @typedef {import('./types/proto.js').PresenceStatus} PresenceStatus */
/** @typedef {import('./types/proto.js').TypingPayload} TypingPayload */
/** @typedef {import('./sdk-transport.js').ClientPayloads} ClientPayloads */
/** @typedef {import('./sdk-events.js').Emit} Emit */

/**
 * Sends a frame when online; false when it could not be sent.
 * @typedef {<T extends keyof ClientPayloads>(type: T, payload: ClientPayloads[T]) => boolean} SendFrame
 */

/** `typing.start` is sent at most this often while typing goes on (ms). */
export const TYPING_RESEND = 3000;
/** `typing.stop` after this long without keystrokes (ms). */
export const TYPING_IDLE = 4000;
/** Someone's typing indicator expires after this long if the server's `isTyping: false` is lost (ms). */
export const TYPING_EXPIRY = 7000;

export class PresenceTracker {
  /**
   * @param {object} deps
   * @param {SendFrame} deps.send
   * @param {(type: 'presence.subscribe', payload: ClientPayloads['presence.subscribe']) => Promise<any>} deps.request
   * @param {Emit} deps.emit
   */
  constructor({ send, request, emit }) {
    this.send = send;
    this.request = request;
    this.emit = emit;
    /** @type {Map<string, { status: PresenceStatus, lastSeen: number | null }>} */
    this.presence = new Map();
    this.away = false;
  }

  /**
   * `presence.update`, or one entry of `presence.bulk` or of a subscription's reply.
   * @param {Presence} p
   */
  update(p) {
    this.presence.set(p.userId, { status: p.status, lastSeen: p.lastSeen });
    this.emit('presence', { userId: p.userId, status: p.status, lastSeen: p.lastSeen });
  }

  /**
   * `{status: 'online'|'away'|'offline', lastSeen}` of a user, or undefined when unknown.
   * @param {string} userId
   */
  of(userId) {
    return this.presence.get(userId);
  }

  /**
   * `presence.subscribe`: presence updates for these users from now on.
   * @param {string[]} userIds
   * @returns {Promise<void>}
   */
  subscribe(userIds) {
    return this.request('presence.subscribe', { userIds }).then((p) => {
      for (const pr of p.presences || []) this.update(pr);
    });
  }

  /**
   * `presence.set` (Confab extension): `away` while the app is idle or hidden, `online` again after.
   * @param {boolean} away
   */
  setAway(away) {
    this.away = away;
    this.send('presence.set', { status: away ? 'away' : 'online' });
  }

  /** A new connection: the server thinks this device is online; tell it otherwise if away. */
  connected() {
    if (this.away) this.send('presence.set', { status: 'away' });
  }
}

export class Typing {
  /**
   * @param {object} deps
   * @param {string} deps.userId  this user
   * @param {SendFrame} deps.send
   * @param {Emit} deps.emit
   */
  constructor({ userId, send, emit }) {
    this.userId = userId;
    this.send = send;
    this.emit = emit;
    /** @type {Map<string, Map<string, ReturnType<typeof setTimeout>>>} conversationId -> userId -> expiry timer */
    this.typing = new Map();
    /** @type {Map<string, number>} conversationId -> when `typing.start` was last sent */
    this.sent = new Map();
    /** @type {Map<string, ReturnType<typeof setTimeout>>} conversationId -> when to send `typing.stop` */
    this.idleTimers = new Map();
  }

  /**
   * A keystroke in a composer: sends `typing.start` at most every `TYPING_RESEND` ms.
   * @param {string} conversationId
   */
  activity(conversationId) {
    const now = Date.now();
    const last = this.sent.get(conversationId) || 0;
    if (now - last > TYPING_RESEND) {
      if (this.send('typing.start', { conversationId })) this.sent.set(conversationId, now);
    }
    clearTimeout(this.idleTimers.get(conversationId));
    this.idleTimers.set(conversationId, setTimeout(() => this.stop(conversationId), TYPING_IDLE));
  }

  /**
   * The composer was cleared or the message sent.
   * @param {string} conversationId
   */
  stop(conversationId) {
    clearTimeout(this.idleTimers.get(conversationId));
    this.idleTimers.delete(conversationId);
    if (this.sent.has(conversationId)) {
      this.sent.delete(conversationId);
      this.send('typing.stop', { conversationId });
    }
  }

  /**
   * User ids currently typing in a conversation.
   * @param {string} conversationId
   */
  users(conversationId) {
    return [...(this.typing.get(conversationId)?.keys() || [])];
  }

  /**
   * `typing.update`.
   * @param {TypingPayload} typing
   */
  update({ conversationId, userId, isTyping }) {
    if (userId === this.userId) return;
    if (isTyping) {
      let map = this.typing.get(conversationId);
      if (!map) this.typing.set(conversationId, (map = new Map()));
      clearTimeout(map.get(userId));
      // The server sends isTyping: false after 5 s; this is the fallback if that frame is lost.
      map.set(userId, setTimeout(() => this.clear(conversationId, userId), TYPING_EXPIRY));
      this.emit('typing', { conversationId, userId, isTyping: true });
    } else {
      this.clear(conversationId, userId);
    }
  }

  /**
   * Someone is no longer typing (they sent a message, or the indicator expired).
   * @param {string} conversationId
   * @param {string} userId
   */
  clear(conversationId, userId) {
    const map = this.typing.get(conversationId);
    if (!map || !map.has(userId)) return;
    clearTimeout(map.get(userId));
    map.delete(userId);
    this.emit('typing', { conversationId, userId, isTyping: false });
  }

  /** The connection went away: nobody is known to be typing any more. */
  clearAll() {
    for (const [conversationId, map] of this.typing) {
      for (const userId of [...map.keys()]) this.clear(conversationId, userId);
    }
  }

  /** The client stopped: no `typing.stop` timers left behind. */
  stopTimers() {
    for (const timer of this.idleTimers.values()) clearTimeout(timer);
    this.idleTimers.clear();
  }
}
