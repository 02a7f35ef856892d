// The client: session, connection lifecycle (reconnect, offline), the conversations and their
// timelines, sending through the outbox, sync, receipts, typing and presence. Built on the other
// sdk-*.js modules; docs/web-sdk.md documents its API.

import { Timeline } from './sdk-timeline.js';
import { Outbox } from './sdk-outbox.js';
import { maxStatus, normalizeStatus, statusFromMarkers } from './sdk-status.js';
import { MemoryStore, IndexedDBStore } from './sdk-storage.js';
import { ConfabError, Socket, backoffDelay, rest } from './sdk-transport.js';

/** @typedef {import('./types/proto').User} User */
/** @typedef {import('./types/proto').Conversation} Conversation */
/** @typedef {import('./types/proto').Content} Content */
/** @typedef {import('./types/proto').Message} Message */
/** @typedef {import('./types/proto').MessageAck} MessageAck */
/** @typedef {import('./types/proto').Presence} Presence */
/** @typedef {import('./types/proto').PresenceStatus} PresenceStatus */
/** @typedef {import('./types/proto').GroupSettings} GroupSettings */
/** @typedef {import('./types/proto').AuthResponse} AuthResponse */
/** @typedef {import('./types/proto').ConnectedPayload} ConnectedPayload */
/** @typedef {import('./types/proto').ServerEnvelope} ServerEnvelope */
/** @typedef {import('./types/proto').SyncResponse} SyncResponse */
/** @typedef {import('./types/proto').TypingPayload} TypingPayload */
/** @typedef {import('./types/proto').ErrorBody} ErrorBody */
/** @typedef {import('./sdk-transport.js').ClientPayloads} ClientPayloads */
/** @typedef {import('./sdk-timeline.js').LocalMessage} LocalMessage */
/** @typedef {import('./sdk-timeline.js').IncomingMessage} IncomingMessage */
/** @typedef {import('./sdk-status.js').Status} Status */
/** @typedef {import('./sdk-status.js').Marker} Marker */
/** @typedef {import('./sdk-storage.js').Store} Store */

/**
 * A signed-in session: the server's `AuthResponse` plus the server it came from.
 * @typedef {AuthResponse & { baseUrl: string }} Session
 */

/**
 * What this device keeps about a conversation beside the server's view of it.
 * @typedef {{
 *   syncedUpTo: number,
 *   markers: Record<string, Marker>,
 *   receivedReported: number,
 *   readReported: number,
 * }} LocalState
 */

/**
 * A conversation as the client holds it: the server's object plus `local`.
 * @typedef {Conversation & { local: LocalState }} LocalConversation
 */

/**
 * The events a client fires (each a `CustomEvent`) and their `detail`; see docs/web-sdk.md.
 * @typedef {{
 *   connection: { state: ConnectionState, attempt?: number, delay?: number, code?: number, connectionId?: string },
 *   message: { conversationId: string, message: LocalMessage },
 *   messages: { conversationId: string, reason: 'new' | 'ack' | 'load' | 'send' | 'status' | 'discard' },
 *   'message.status': { conversationId: string, messageId: string, status: Status, error?: string, reason?: string },
 *   receipt: { conversationId: string, userId: string, kind: 'delivered' | 'read', upToSequence: number },
 *   typing: { conversationId: string, userId: string, isTyping: boolean },
 *   presence: { userId: string, status: PresenceStatus, lastSeen: number | null },
 *   conversations: {},
 *   conversation: { conversation: LocalConversation, isNew: boolean },
 *   'conversation.removed': { conversationId: string },
 *   user: { user: User },
 *   synced: {},
 *   unauthorized: { error: unknown },
 *   error: { error: unknown },
 * }} ClientEvents
 */

/**
 * `idle` → `connecting` → `online`; `reconnecting` after a drop; `offline` while the browser is
 * offline; `closed` after `stop()`.
 * @typedef {'idle' | 'connecting' | 'online' | 'reconnecting' | 'offline' | 'closed'} ConnectionState
 */

function uuid() {
  if (typeof globalThis.crypto?.randomUUID === 'function') return crypto.randomUUID();
  return 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, (c) => {
    const r = (Math.random() * 16) | 0;
    return (c === 'x' ? r : (r & 0x3) | 0x8).toString(16);
  });
}

const SESSION_KEY = 'confab.session';
const DEVICE_KEY = 'confab.deviceId';
const WINDOW = 50; // messages a device fetches of a conversation it has no history of
const SYNC_ROUNDS = 20; // bound on sync rounds per conversation batch

/** This browser's stable device id (kept in localStorage). */
export function deviceId() {
  try {
    let id = localStorage.getItem(DEVICE_KEY);
    if (!id) {
      id = 'web-' + uuid();
      localStorage.setItem(DEVICE_KEY, id);
    }
    return id;
  } catch {
    return 'web-' + uuid();
  }
}

export class ConfabClient extends EventTarget {
  /**
   * `POST /auth/register`; returns a session object `{baseUrl, token, userId, username, displayName, expiresAt}`.
   * @param {string} baseUrl
   * @param {import('./types/proto').RegisterRequest} request
   * @returns {Promise<Session>}
   */
  static async register(baseUrl, { username, password, displayName }) {
    const r = await rest(baseUrl, 'POST', '/auth/register', { body: { username, password, displayName } });
    return { baseUrl, ...r };
  }

  /**
   * `POST /auth/login`; returns a session object.
   * @param {string} baseUrl
   * @param {import('./types/proto').LoginRequest} request
   * @returns {Promise<Session>}
   */
  static async login(baseUrl, { username, password }) {
    const r = await rest(baseUrl, 'POST', '/auth/login', { body: { username, password } });
    return { baseUrl, ...r };
  }

  /**
   * Keeps a session in localStorage so the next page load starts signed in.
   * @param {Session} session
   */
  static saveSession(session) {
    localStorage.setItem(SESSION_KEY, JSON.stringify(session));
  }

  /**
   * The saved session, or null when there is none or it has expired.
   * @returns {Session | null}
   */
  static loadSession() {
    try {
      const s = JSON.parse(localStorage.getItem(SESSION_KEY) || 'null');
      if (s && s.token && (!s.expiresAt || s.expiresAt > Date.now())) return s;
    } catch {
      /* ignore */
    }
    return null;
  }

  static clearSession() {
    localStorage.removeItem(SESSION_KEY);
  }

  /**
   * @param {object} options
   * @param {Session | (AuthResponse & { baseUrl?: string })} options.session  from register/login/loadSession
   * @param {string} [options.deviceId]  defaults to this browser's stable id
   * @param {Store} [options.store]  IndexedDBStore (default in browsers) or MemoryStore
   * @param {number} [options.ackTimeout]  ms to wait for `message.ack` before sending again
   * @param {number} [options.maxAttempts]  sends of one message on live connections before it fails
   * @param {{ base?: number, max?: number }} [options.backoff]  reconnect delays (see `backoffDelay`)
   */
  constructor({ session, deviceId: device, store, ackTimeout = 4000, maxAttempts = 4, backoff = {} }) {
    super();
    this.session = session;
    this.baseUrl = session.baseUrl || (globalThis.location ? location.origin : '');
    this.token = session.token;
    this.userId = session.userId;
    this.deviceId = device || deviceId();
    this.store = store || (globalThis.indexedDB ? new IndexedDBStore('confab-' + session.userId) : new MemoryStore());
    this.backoff = backoff;
    /** @type {ConnectionState} */
    this.state = 'idle';
    /** @type {Map<string, LocalConversation>} */
    this.conversations = new Map();
    /** @type {Map<string, Timeline>} */
    this.timelines = new Map();
    /** @type {Map<string, User>} */
    this.users = new Map();
    /** @type {Map<string, { status: PresenceStatus, lastSeen: number | null }>} */
    this.presence = new Map();
    /** @type {Map<string, Map<string, ReturnType<typeof setTimeout>>>} conversationId -> userId -> expiry timer */
    this.typing = new Map();
    this.outbox = new Outbox({ ackTimeout, maxAttempts });
    /** @type {Socket | null} the current connection */
    this.socket = null;
    this.attempt = 0;
    this.stopped = true;
    /** @type {Record<string, ReturnType<typeof setTimeout>>} */
    this.timers = {};
    /** @type {Set<string>} */
    this.loadedFromStore = new Set();
    /** @type {Promise<void> | null} */
    this.syncing = null;
    this.resyncNeeded = false;
    /** @type {Map<string, number>} conversationId -> when `typing.start` was last sent */
    this.typingSent = new Map();
    /** @type {Map<string, Promise<unknown>>} */
    this.userFetches = new Map();
    /** @type {ConnectedPayload | undefined} the last `connected` frame */
    this.connection = undefined;
    this.serverTimeOffset = 0;
    this.awayStatus = false;
    this.onOnline = () => this.#onNetworkOnline();
    this.onOffline = () => this.#onNetworkOffline();
  }

  // ---- events ----

  /**
   * @template {keyof ClientEvents} K
   * @param {K} type
   * @param {ClientEvents[K]} detail
   */
  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /**
   * @param {ConnectionState} state
   * @param {object} [extra]
   */
  #setState(state, extra = {}) {
    if (this.state === state) return;
    this.state = state;
    this.#emit('connection', { state, ...extra });
  }

  // ---- lifecycle ----

  /** Opens local storage, shows what it holds, then connects. Resolves once local data is loaded. */
  async start() {
    this.stopped = false;
    await this.store.open();
    for (const u of await this.store.getUsers()) this.users.set(u.userId, u);
    for (const c of await this.store.getConversations()) {
      this.conversations.set(c.conversationId, c);
      this.timelines.set(c.conversationId, new Timeline({ syncedUpTo: c.local?.syncedUpTo || 0 }));
    }
    for (const m of await this.store.getOutbox()) {
      const t = this.timeline(m.conversationId);
      t.insert(m);
      if (m.status === 'pending') this.outbox.add(m, 0);
      else {
        this.outbox.add(m, 0);
        this.outbox.fail(m.messageId);
      }
    }
    this.#emit('conversations', {});
    if (globalThis.addEventListener) {
      globalThis.addEventListener('online', this.onOnline);
      globalThis.addEventListener('offline', this.onOffline);
    }
    this.connect();
  }

  /** Closes the connection and stops reconnecting (local data is kept). */
  stop() {
    this.stopped = true;
    if (globalThis.removeEventListener) {
      globalThis.removeEventListener('online', this.onOnline);
      globalThis.removeEventListener('offline', this.onOffline);
    }
    for (const t of Object.values(this.timers)) clearTimeout(t);
    this.timers = {};
    if (this.socket) {
      const socket = this.socket;
      this.socket = null;
      socket.close(1000);
    }
    this.#setState('closed');
  }

  /** Stops, forgets the saved session and deletes this user's local data. */
  async logout() {
    this.stop();
    ConfabClient.clearSession();
    await this.store.destroy();
  }

  /**
   * `fetch` against the REST API with this session's token.
   * @param {string} method
   * @param {string} path  under `/api/v1`
   * @param {unknown} [body]
   * @returns {Promise<any>}
   */
  api(method, path, body) {
    return rest(this.baseUrl, method, path, { token: this.token, body });
  }

  /** Opens the connection unless one is open (or the client is stopped or the browser offline). */
  connect() {
    if (this.stopped || this.socket) return;
    clearTimeout(this.timers.reconnect);
    if (globalThis.navigator && navigator.onLine === false) {
      this.#setState('offline');
      return;
    }
    this.#setState(this.attempt === 0 && this.state !== 'reconnecting' ? 'connecting' : 'reconnecting', {
      attempt: this.attempt,
    });
    const url = new URL('/ws', this.baseUrl.replace(/^http/, 'ws'));
    url.searchParams.set('token', this.token);
    url.searchParams.set('device_id', this.deviceId);
    const socket = new Socket(url.toString(), {
      onFrame: (frame) => {
        if (this.socket === socket) this.#onFrame(frame);
      },
      onClose: (code) => {
        if (this.socket === socket) this.#onClosed(code);
      },
    });
    this.socket = socket;
  }

  /**
   * Sends a frame on the current connection once it is `online`; false when it cannot be sent.
   * @template {keyof ClientPayloads} T
   * @param {T} type
   * @param {ClientPayloads[T]} payload
   * @param {string} [id]
   */
  #send(type, payload, id) {
    if (!this.socket || this.state !== 'online') return false;
    return this.socket.send(type, payload, id);
  }

  /**
   * A frame expecting a reply (see `Socket.request`); rejects with `OFFLINE` when not online.
   * @template {keyof ClientPayloads} T
   * @param {T} type
   * @param {ClientPayloads[T]} payload
   * @returns {Promise<any>}
   */
  #request(type, payload) {
    if (!this.socket || this.state !== 'online') return Promise.reject(new ConfabError('OFFLINE', 'not connected'));
    return this.socket.request(type, payload);
  }

  /**
   * The connection is gone (closed by the server or the network, presumed dead, or closed here
   * because the browser went offline): reconnect after a backoff delay unless stopped or offline.
   * @param {number} code
   */
  #onClosed(code) {
    this.socket = null;
    clearTimeout(this.timers.outbox);
    this.outbox.disconnected();
    this.#clearAllTyping();
    if (this.stopped) return;
    if (globalThis.navigator && navigator.onLine === false) {
      this.#setState('offline');
      return;
    }
    const delay = backoffDelay(this.attempt, this.backoff);
    this.attempt += 1;
    this.#setState('reconnecting', { attempt: this.attempt, delay, code });
    this.timers.reconnect = setTimeout(() => this.connect(), delay);
    if (this.attempt >= 3) this.#checkToken();
  }

  async #checkToken() {
    try {
      await this.api('GET', '/users/me');
    } catch (err) {
      if (err instanceof ConfabError && err.status === 401) {
        this.stop();
        this.#emit('unauthorized', { error: err });
      }
    }
  }

  #onNetworkOffline() {
    if (this.stopped) return;
    clearTimeout(this.timers.reconnect);
    if (this.socket) {
      this.socket.close(1000);
      this.#onClosed(1006);
    }
    this.#setState('offline');
  }

  #onNetworkOnline() {
    if (this.stopped) return;
    this.attempt = 0;
    if (!this.socket) this.connect();
  }

  /** Reconnects now instead of waiting for the backoff timer (e.g. a "retry now" button). */
  reconnectNow() {
    this.attempt = 0;
    if (!this.socket && !this.stopped) this.connect();
  }

  /**
   * @param {ConnectedPayload} payload
   */
  async #onConnected(payload) {
    this.attempt = 0;
    this.connection = payload;
    this.serverTimeOffset = payload.serverTime - Date.now();
    this.#setState('online', { connectionId: payload.connectionId });
    this.socket?.startHeartbeat(payload.heartbeatInterval || 30000);
    if (this.awayStatus) this.#send('presence.set', { status: 'away' });
    this.#flushOutbox();
    this.#flushMarkers();
    try {
      await this.refreshConversations();
    } catch {
      /* offline again, or the server is down: the next connection retries */
    }
    await this.resync();
  }

  // ---- frames ----

  /**
   * @param {ServerEnvelope} frame
   */
  #onFrame(frame) {
    switch (frame.type) {
      case 'connected':
        this.#onConnected(frame.payload);
        break;
      case 'message.new':
        this.#onMessages(frame.payload.conversationId, [frame.payload], { live: true });
        break;
      case 'message.ack':
        this.#onAck(frame.payload);
        break;
      case 'message.delivered': {
        const p = frame.payload;
        this.#onMarker(p.conversationId, p.deliveredTo, 'delivered', p.upToSequence);
        break;
      }
      case 'message.read_receipt': {
        const p = frame.payload;
        this.#onMarker(p.conversationId, p.readBy, 'read', p.readUpToSequence);
        break;
      }
      case 'typing.update':
        this.#onTyping(frame.payload);
        break;
      case 'presence.bulk':
        for (const pr of frame.payload.presences || []) this.#onPresence(pr);
        break;
      case 'presence.update':
        this.#onPresence(frame.payload);
        break;
      case 'conversation.updated':
        this.#upsertConversation(frame.payload, { sync: true });
        break;
      case 'sync.result':
        break;
      case 'error':
        this.#onErrorFrame(frame.id, frame.payload);
        break;
      default:
        break;
    }
  }

  /**
   * @param {string | undefined} id
   * @param {ErrorBody} p
   */
  #onErrorFrame(id, p) {
    const match = /^s:(.*):\d+$/.exec(id || '');
    if (!match) {
      this.#emit('error', { error: new ConfabError(p.error, p.message) });
      return;
    }
    const messageId = match[1];
    if (p.error === 'RATE_LIMITED' || p.error === 'UNAVAILABLE' || p.error === 'INTERNAL_ERROR') {
      this.outbox.delay(messageId, Date.now() + (p.retryAfter || 1) * 1000);
      this.#scheduleOutbox();
      return;
    }
    const message = this.outbox.fail(messageId);
    if (message) this.#setOwnStatus(message.conversationId, messageId, 'failed', { error: p.error, reason: p.message });
  }

  // ---- conversations ----

  /**
   * @param {string} conversationId
   * @returns {Timeline}
   */
  timeline(conversationId) {
    let t = this.timelines.get(conversationId);
    if (!t) {
      t = new Timeline();
      this.timelines.set(conversationId, t);
    }
    return t;
  }

  /** Conversations, most recently active first. */
  conversationList() {
    const last = (/** @type {LocalConversation} */ c) => {
      const t = this.timelines.get(c.conversationId);
      const msgs = t ? t.list() : [];
      const m = msgs[msgs.length - 1];
      return (m && (m.timestamp || m.localTime)) || c.lastMessage?.timestamp || c.createdAt || 0;
    };
    return [...this.conversations.values()].sort((a, b) => last(b) - last(a));
  }

  /**
   * The newest message of a conversation as this device knows it (pending included).
   * @param {string} conversationId
   * @returns {LocalMessage | Message | null}
   */
  lastMessage(conversationId) {
    const t = this.timelines.get(conversationId);
    const list = t ? t.list() : [];
    return list[list.length - 1] || this.conversations.get(conversationId)?.lastMessage || null;
  }

  /**
   * @param {string} conversationId
   */
  unreadCount(conversationId) {
    const c = this.conversations.get(conversationId);
    if (!c) return 0;
    return Math.max(0, (c.lastSequence || 0) - (c.lastReadSequence || 0));
  }

  /** `GET /conversations`, merged with what this device knows. */
  async refreshConversations() {
    const { conversations } = await this.api('GET', '/conversations');
    const seen = new Set();
    for (const c of conversations) {
      seen.add(c.conversationId);
      this.#upsertConversation(c, { quiet: true });
    }
    for (const id of [...this.conversations.keys()]) {
      if (!seen.has(id)) this.#dropConversation(id);
    }
    this.#emit('conversations', {});
  }

  /**
   * @param {Conversation} c
   * @param {{ quiet?: boolean, sync?: boolean }} [options]
   */
  #upsertConversation(c, { quiet = false, sync = false } = {}) {
    if (!c.participants.some((p) => p.userId === this.userId)) {
      this.#dropConversation(c.conversationId);
      return;
    }
    const old = this.conversations.get(c.conversationId);
    const local = old?.local || { syncedUpTo: 0, markers: {}, receivedReported: 0, readReported: 0 };
    const merged = {
      ...c,
      lastSequence: Math.max(c.lastSequence || 0, old?.lastSequence || 0),
      lastReadSequence: Math.max(c.lastReadSequence || 0, old?.lastReadSequence || 0),
      local,
    };
    const isNew = !old;
    this.conversations.set(c.conversationId, merged);
    const t = this.timeline(c.conversationId);
    if (isNew && t.size === 0 && t.syncedUpTo === 0) {
      // No history here: start from a recent window instead of the beginning.
      t.skipTo(Math.max(0, (c.lastSequence || 0) - WINDOW));
      local.syncedUpTo = t.syncedUpTo;
    }
    this.#persistConversation(c.conversationId);
    for (const p of c.participants) this.user(p.userId);
    if (isNew && c.type === 'direct') {
      const other = c.participants.find((p) => p.userId !== this.userId);
      if (other && this.state === 'online') this.#send('presence.subscribe', { userIds: [other.userId] });
    }
    if (!quiet) this.#emit('conversations', {});
    this.#emit('conversation', { conversation: merged, isNew });
    if (sync && isNew) this.resync();
  }

  /**
   * @param {string} id
   */
  #dropConversation(id) {
    if (!this.conversations.has(id)) return;
    this.conversations.delete(id);
    this.timelines.delete(id);
    this.store.deleteConversation(id).catch(() => {});
    this.#emit('conversations', {});
    this.#emit('conversation.removed', { conversationId: id });
  }

  /**
   * @param {string} id
   */
  #persistConversation(id) {
    const c = this.conversations.get(id);
    if (!c) return;
    const t = this.timelines.get(id);
    if (t) c.local.syncedUpTo = t.syncedUpTo;
    this.store.putConversation(c).catch(() => {});
  }

  /**
   * The conversation as held here, after the server answered with it; it is missing only when
   * this user is not a member (then the server would have refused).
   * @param {string} id
   */
  #member(id) {
    const c = this.conversations.get(id);
    if (!c) throw new ConfabError('CONVERSATION_NOT_FOUND', 'not a member of this conversation');
    return c;
  }

  /**
   * `POST /conversations` (direct); returns the conversation.
   * @param {string} userId
   * @returns {Promise<LocalConversation>}
   */
  async createDirect(userId) {
    const c = await this.api('POST', '/conversations', { type: 'direct', participantIds: [userId] });
    this.#upsertConversation(c);
    return this.#member(c.conversationId);
  }

  /**
   * `POST /groups`; returns the conversation.
   * @param {string} name
   * @param {string[]} participantIds
   * @param {Partial<GroupSettings>} [settings]
   * @returns {Promise<LocalConversation>}
   */
  async createGroup(name, participantIds, settings) {
    const c = await this.api('POST', '/groups', { name, participantIds, settings });
    this.#upsertConversation(c);
    return this.#member(c.conversationId);
  }

  /**
   * `POST /conversations/{id}/members`.
   * @param {string} conversationId
   * @param {string[]} userIds
   * @returns {Promise<LocalConversation>}
   */
  async addMembers(conversationId, userIds) {
    const c = await this.api('POST', `/conversations/${encodeURIComponent(conversationId)}/members`, { userIds });
    this.#upsertConversation(c);
    return this.#member(c.conversationId);
  }

  /**
   * Leaves a group (`DELETE /conversations/{id}/members/{me}`).
   * @param {string} conversationId
   */
  async leave(conversationId) {
    await this.api(
      'DELETE',
      `/conversations/${encodeURIComponent(conversationId)}/members/${encodeURIComponent(this.userId)}`,
    );
    this.#dropConversation(conversationId);
  }

  /**
   * `GET /users?query=`.
   * @param {string} query
   * @param {number} [limit]
   * @returns {Promise<User[]>}
   */
  async searchUsers(query, limit = 20) {
    const { users } = await this.api('GET', `/users?query=${encodeURIComponent(query)}&limit=${limit}`);
    for (const u of users) this.#rememberUser(u);
    return users;
  }

  /**
   * A user's profile: cached, or fetched (a `user` event fires when it arrives).
   * @param {string} userId
   * @returns {User | null}
   */
  user(userId) {
    const u = this.users.get(userId);
    if (u) return u;
    if (!this.userFetches.has(userId)) {
      const p = this.api('GET', `/users/${encodeURIComponent(userId)}`)
        .then((u) => this.#rememberUser(u))
        .catch(() => {})
        .finally(() => this.userFetches.delete(userId));
      this.userFetches.set(userId, p);
    }
    return null;
  }

  /**
   * @param {User} u
   */
  #rememberUser(u) {
    const old = this.users.get(u.userId);
    this.users.set(u.userId, u);
    if (!old || old.displayName !== u.displayName || old.username !== u.username) {
      this.store.putUser(u).catch(() => {});
      this.#emit('user', { user: u });
    }
    return u;
  }

  /**
   * Display name of a user (or the username, or the id while unknown).
   * @param {string} userId
   */
  userName(userId) {
    const u = this.user(userId);
    return u ? u.displayName || u.username : '…';
  }

  /**
   * Name to show for a conversation: the group name, or the other person in a direct chat.
   * @param {string} conversationId
   */
  conversationName(conversationId) {
    const c = this.conversations.get(conversationId);
    if (!c) return '';
    if (c.type === 'group') return c.name || 'Group';
    const other = this.peerId(conversationId);
    return other ? this.userName(other) : 'Just you';
  }

  /**
   * The other member of a direct conversation.
   * @param {string} conversationId
   * @returns {string | null}
   */
  peerId(conversationId) {
    const c = this.conversations.get(conversationId);
    if (!c || c.type !== 'direct') return null;
    return c.participants.find((p) => p.userId !== this.userId)?.userId || null;
  }

  // ---- messages ----

  /**
   * Loads what this device has of a conversation (IndexedDB first, then the newest page from the
   * server for fresh statuses). Call when a conversation is opened.
   * @param {string} conversationId
   */
  async openConversation(conversationId) {
    const t = this.timeline(conversationId);
    if (!this.loadedFromStore.has(conversationId)) {
      this.loadedFromStore.add(conversationId);
      const below = (t.minSeq ?? t.syncedUpTo + 1);
      const stored = await this.store.getMessages(conversationId, below, WINDOW).catch(() => []);
      this.#onMessages(conversationId, stored, { fromStore: true });
    }
    if (this.state === 'online') {
      try {
        const page = await this.api('GET', `/conversations/${encodeURIComponent(conversationId)}/messages?limit=${WINDOW}`);
        this.#onMessages(conversationId, page.messages, {});
      } catch {
        /* offline: local history is what there is */
      }
    }
  }

  /**
   * Loads older history (IndexedDB first, then `GET messages?before=`). Resolves to the number of
   * messages added; 0 means the beginning was reached (or nothing could be loaded).
   * @param {string} conversationId
   * @param {number} [limit]
   */
  async loadOlder(conversationId, limit = 30) {
    const t = this.timeline(conversationId);
    if (!t.hasOlder) return 0;
    const below = t.minSeq ?? t.syncedUpTo + 1;
    const before = t.size;
    const stored = await this.store.getMessages(conversationId, below, limit).catch(() => []);
    // Local history is usable only if it continues right below what is shown.
    if (stored.length && stored[stored.length - 1].sequenceNumber === below - 1) {
      this.#onMessages(conversationId, stored, { fromStore: true });
    } else {
      const page = await this.api(
        'GET',
        `/conversations/${encodeURIComponent(conversationId)}/messages?before=${below}&limit=${limit}`,
      );
      this.#onMessages(conversationId, page.messages, {});
    }
    return t.size - before;
  }

  /**
   * Messages of a conversation in display order.
   * @param {string} conversationId
   */
  messages(conversationId) {
    return this.timeline(conversationId).list();
  }

  /**
   * Sends a text message: it appears at once with status `pending`, is retried with the same
   * messageId until acknowledged, and turns `failed` after the retry bound (see `retry`).
   * Returns the local message.
   * @param {string} conversationId
   * @param {string} text
   */
  sendText(conversationId, text) {
    return this.send(conversationId, { type: 'text', text });
  }

  /**
   * @param {string} conversationId
   * @param {Content} content
   * @returns {LocalMessage}
   */
  send(conversationId, content) {
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
    };
    this.timeline(conversationId).insert(message);
    this.outbox.add(message);
    this.store.putOutbox(message).catch(() => {});
    this.stopTyping(conversationId);
    this.#emit('messages', { conversationId, reason: 'send' });
    this.#flushOutbox();
    return message;
  }

  /**
   * Puts a failed message back in the queue.
   * @param {string} messageId
   */
  retry(messageId) {
    const m = this.outbox.entries.get(messageId)?.message;
    if (!m || !this.outbox.retry(messageId)) return false;
    this.#setOwnStatus(m.conversationId, messageId, 'pending');
    this.#flushOutbox();
    return true;
  }

  /**
   * Drops a failed message that will not be sent.
   * @param {string} messageId
   */
  discard(messageId) {
    const m = this.outbox.ack(messageId);
    if (!m) return false;
    this.timeline(m.conversationId).remove(messageId);
    this.store.deleteOutbox(messageId).catch(() => {});
    this.#emit('messages', { conversationId: m.conversationId, reason: 'discard' });
    return true;
  }

  #flushOutbox() {
    clearTimeout(this.timers.outbox);
    if (this.state !== 'online') return;
    const { send, failed } = this.outbox.take(Date.now());
    for (const m of failed) this.#setOwnStatus(m.conversationId, m.messageId, 'failed');
    for (const m of send) {
      const attempts = this.outbox.entries.get(m.messageId)?.attempts ?? 0;
      this.#send(
        'message.send',
        { messageId: m.messageId, conversationId: m.conversationId, content: m.content },
        `s:${m.messageId}:${attempts}`,
      );
    }
    this.#scheduleOutbox();
  }

  #scheduleOutbox() {
    clearTimeout(this.timers.outbox);
    const next = this.outbox.nextDue();
    if (next === null || this.state !== 'online') return;
    this.timers.outbox = setTimeout(() => this.#flushOutbox(), Math.max(0, next - Date.now()) + 5);
  }

  /**
   * @param {MessageAck} ack
   */
  #onAck(ack) {
    const queued = this.outbox.ack(ack.messageId);
    this.store.deleteOutbox(ack.messageId).catch(() => {});
    const t = this.timeline(ack.conversationId);
    const local = t.get(ack.messageId) || queued;
    if (!local) return;
    const c = this.conversations.get(ack.conversationId);
    if (c) c.lastReadSequence = Math.max(c.lastReadSequence || 0, ack.sequenceNumber); // own messages are read
    this.#onMessages(
      ack.conversationId,
      [{ ...local, sequenceNumber: ack.sequenceNumber, timestamp: ack.timestamp, status: 'sent' }],
      { ack: true },
    );
  }

  /**
   * @param {string} conversationId
   * @param {string} messageId
   * @param {Status} status
   * @param {{ error?: string, reason?: string }} [extra]  why a message failed
   */
  #setOwnStatus(conversationId, messageId, status, extra = {}) {
    const t = this.timeline(conversationId);
    const m = t.get(messageId);
    if (!m) return;
    m.status = status;
    if (m.sequenceNumber == null) this.store.putOutbox(m).catch(() => {});
    else this.store.putMessages([m]).catch(() => {});
    this.#emit('message.status', { conversationId, messageId, status, ...extra });
    this.#emit('messages', { conversationId, reason: 'status' });
  }

  /**
   * Takes in messages from any source (live, ack, sync, history, local store): orders, dedups,
   * persists, acknowledges receipt and detects gaps.
   * @param {string} conversationId
   * @param {Array<Message | IncomingMessage>} list  wire messages, or local ones (from the store, acks)
   * @param {{ live?: boolean, ack?: boolean, fromStore?: boolean }} [source]
   */
  #onMessages(conversationId, list, { live = false, ack = false, fromStore = false } = {}) {
    if (!list.length) return;
    const t = this.timeline(conversationId);
    const c = this.conversations.get(conversationId);
    /** @type {LocalMessage[]} */
    const fresh = [];
    let changed = false;
    let gap = false;
    for (const raw of list) {
      /** @type {IncomingMessage} */
      const m = { ...raw, status: normalizeStatus(raw.status) };
      if (m.senderId === this.userId) {
        if (!fromStore) m.status = maxStatus(m.status || 'sent', this.#statusFor(conversationId, m.sequenceNumber));
      } else {
        delete m.status;
      }
      const r = t.insert(m);
      if (r.changed) changed = true;
      if (r.gap) gap = true;
      const stored = t.get(m.messageId);
      if ((r.added || r.changed) && !fromStore && m.sequenceNumber != null && stored) fresh.push(stored);
      if (r.added && m.senderId !== this.userId && live && stored) {
        this.#clearTyping(conversationId, m.senderId);
        this.#emit('message', { conversationId, message: stored });
      }
    }
    if (c) {
      // Writing a message moves its sender's read marker to it (server rule): a message from
      // another member is also their read receipt for everything before it.
      /** @type {Record<string, number>} */
      const wrote = {};
      for (const m of list) {
        if (m.senderId !== this.userId && m.sequenceNumber != null) wrote[m.senderId] = Math.max(wrote[m.senderId] || 0, m.sequenceNumber);
      }
      for (const [userId, seq] of Object.entries(wrote)) {
        const known = c.local.markers?.[userId]?.read || 0;
        if (seq > known) this.#onMarker(conversationId, userId, 'read', seq);
      }
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
    if (c) this.#persistConversation(conversationId);
    if (changed) this.#emit('messages', { conversationId, reason: live ? 'new' : ack ? 'ack' : 'load' });
    this.#reportReceived(conversationId);
    if (gap && !fromStore) {
      if (ack) this.#scheduleGapCheck(conversationId);
      else if (live) this.resync();
    }
  }

  /**
   * @param {string} conversationId
   */
  #scheduleGapCheck(conversationId) {
    clearTimeout(this.timers['gap:' + conversationId]);
    this.timers['gap:' + conversationId] = setTimeout(() => {
      if (this.timelines.get(conversationId)?.hasGap) this.resync();
    }, 1500);
  }

  /**
   * Syncs every conversation from its cursor (WebSocket `sync`), repeating while the server has
   * more. Concurrent calls coalesce.
   */
  resync() {
    if (this.syncing) {
      this.resyncNeeded = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      try {
        do {
          this.resyncNeeded = false;
          await this.#syncOnce();
        } while (this.resyncNeeded && this.state === 'online');
      } catch (err) {
        if (!(err instanceof ConfabError && err.code === 'OFFLINE')) this.#emit('error', { error: err });
      } finally {
        this.syncing = null;
        this.#emit('synced', {});
      }
    })();
    return this.syncing;
  }

  async #syncOnce() {
    let want = [...this.conversations.keys()];
    for (let round = 0; round < SYNC_ROUNDS && want.length && this.state === 'online'; round++) {
      const conversations = want.map((id) => ({ conversationId: id, lastSequence: this.timeline(id).syncedUpTo }));
      const result = await this.#request('sync', { conversations, limit: 200 });
      want = [];
      for (const newConv of result.newConversations || []) {
        this.#upsertConversation(newConv, { quiet: true });
        want.push(newConv.conversationId);
      }
      for (const r of result.conversations || []) {
        const c = this.conversations.get(r.conversationId);
        if (!c) continue;
        c.lastSequence = Math.max(c.lastSequence || 0, r.lastSequence || 0);
        this.#onMessages(r.conversationId, r.messages || [], {});
        if (r.hasMore) want.push(r.conversationId);
      }
      this.#emit('conversations', {});
    }
  }

  // ---- receipts ----

  /**
   * The other members of a conversation, or null when they are not all known (the server
   * truncates the participant list of large groups).
   * @param {string} conversationId
   */
  #otherMembers(conversationId) {
    const c = this.conversations.get(conversationId);
    if (!c || (c.memberCount && c.memberCount > c.participants.length)) return null;
    return c.participants.map((p) => p.userId).filter((id) => id !== this.userId);
  }

  /**
   * The status of one's own message `seq` from the receipts seen here; undefined when it cannot be
   * known (unconfirmed message, unknown members).
   * @param {string} conversationId
   * @param {number | null | undefined} seq
   */
  #statusFor(conversationId, seq) {
    const c = this.conversations.get(conversationId);
    const others = this.#otherMembers(conversationId);
    if (!c || seq == null || !others) return undefined;
    return statusFromMarkers(seq, others, c.local.markers || {});
  }

  /**
   * @param {string} conversationId
   * @param {string} userId
   * @param {'delivered' | 'read'} kind
   * @param {number} upTo
   */
  #onMarker(conversationId, userId, kind, upTo) {
    const c = this.conversations.get(conversationId);
    if (!c) return;
    if (userId === this.userId) {
      if (kind === 'read' && upTo > (c.lastReadSequence || 0)) {
        c.lastReadSequence = upTo; // read on another device
        c.local.readReported = Math.max(c.local.readReported || 0, upTo);
        this.#persistConversation(conversationId);
        this.#emit('conversations', {});
      }
      return;
    }
    const markers = (c.local.markers ||= {});
    const m = (markers[userId] ||= { delivered: 0, read: 0 });
    m[kind] = Math.max(m[kind] || 0, upTo);
    if (kind === 'read') m.delivered = Math.max(m.delivered || 0, upTo);
    this.#persistConversation(conversationId);
    this.#emit('receipt', { conversationId, userId, kind, upToSequence: upTo });
    // Upgrade the statuses of one's own messages.
    const t = this.timeline(conversationId);
    const changed = [];
    for (const msg of t.list()) {
      if (msg.senderId !== this.userId || msg.sequenceNumber == null || msg.sequenceNumber > upTo) continue;
      const s = maxStatus(msg.status, this.#statusFor(conversationId, msg.sequenceNumber));
      if (s && s !== msg.status) {
        msg.status = s;
        changed.push(msg);
        this.#emit('message.status', { conversationId, messageId: msg.messageId, status: s });
      }
    }
    if (changed.length) {
      this.store.putMessages(changed.map((m) => ({ ...m }))).catch(() => {});
      this.#emit('messages', { conversationId, reason: 'status' });
    }
  }

  /**
   * `GET /conversations/{id}/messages/{messageId}/receipts`: who has received and read a message.
   * @param {string} conversationId
   * @param {string} messageId
   * @returns {Promise<import('./types/proto').ReceiptsResponse>}
   */
  receipts(conversationId, messageId) {
    return this.api(
      'GET',
      `/conversations/${encodeURIComponent(conversationId)}/messages/${encodeURIComponent(messageId)}/receipts`,
    );
  }

  /**
   * @param {string} conversationId
   */
  #reportReceived(conversationId) {
    const c = this.conversations.get(conversationId);
    const t = this.timelines.get(conversationId);
    if (!c || !t) return;
    const upTo = t.syncedUpTo;
    if (upTo > (c.local.receivedReported || 0) && t.size > 0) {
      if (this.#send('message.received', { conversationId, upToSequence: upTo })) {
        c.local.receivedReported = upTo;
      }
    }
  }

  /**
   * Marks a conversation read up to its newest message (`message.read`), when it is open and
   * visible. Offline, the marker is kept and reported on reconnect.
   * @param {string} conversationId
   */
  markRead(conversationId) {
    const c = this.conversations.get(conversationId);
    if (!c) return;
    const upTo = Math.max(this.timeline(conversationId).maxSeq, 0);
    if (upTo > (c.lastReadSequence || 0)) {
      c.lastReadSequence = upTo;
      this.#emit('conversations', {});
    }
    if ((c.local.readReported || 0) < c.lastReadSequence) {
      if (this.#send('message.read', { conversationId, upToSequence: c.lastReadSequence })) {
        c.local.readReported = c.lastReadSequence;
      }
    }
    this.#persistConversation(conversationId);
  }

  #flushMarkers() {
    for (const [id, c] of this.conversations) {
      this.#reportReceived(id);
      const local = c.local;
      if ((local.readReported || 0) < (c.lastReadSequence || 0) && c.lastReadSequence <= this.timeline(id).maxSeq) {
        if (this.#send('message.read', { conversationId: id, upToSequence: c.lastReadSequence })) {
          local.readReported = c.lastReadSequence;
        }
      }
    }
  }

  // ---- typing ----

  /**
   * Call on every keystroke in a composer: sends `typing.start` at most every 3 s.
   * @param {string} conversationId
   */
  typingActivity(conversationId) {
    const now = Date.now();
    const last = this.typingSent.get(conversationId) || 0;
    if (now - last > 3000) {
      if (this.#send('typing.start', { conversationId })) this.typingSent.set(conversationId, now);
    }
    clearTimeout(this.timers['typing:' + conversationId]);
    this.timers['typing:' + conversationId] = setTimeout(() => this.stopTyping(conversationId), 4000);
  }

  /**
   * The composer was cleared or the message sent.
   * @param {string} conversationId
   */
  stopTyping(conversationId) {
    clearTimeout(this.timers['typing:' + conversationId]);
    if (this.typingSent.has(conversationId)) {
      this.typingSent.delete(conversationId);
      this.#send('typing.stop', { conversationId });
    }
  }

  /**
   * User ids currently typing in a conversation.
   * @param {string} conversationId
   */
  typingUsers(conversationId) {
    return [...(this.typing.get(conversationId)?.keys() || [])];
  }

  /**
   * @param {TypingPayload} typing
   */
  #onTyping({ conversationId, userId, isTyping }) {
    if (userId === this.userId) return;
    if (isTyping) {
      let map = this.typing.get(conversationId);
      if (!map) this.typing.set(conversationId, (map = new Map()));
      clearTimeout(map.get(userId));
      // The server sends isTyping: false after 5 s; this is the fallback if that frame is lost.
      map.set(userId, setTimeout(() => this.#clearTyping(conversationId, userId), 7000));
      this.#emit('typing', { conversationId, userId, isTyping: true });
    } else {
      this.#clearTyping(conversationId, userId);
    }
  }

  /**
   * @param {string} conversationId
   * @param {string} userId
   */
  #clearTyping(conversationId, userId) {
    const map = this.typing.get(conversationId);
    if (!map || !map.has(userId)) return;
    clearTimeout(map.get(userId));
    map.delete(userId);
    this.#emit('typing', { conversationId, userId, isTyping: false });
  }

  #clearAllTyping() {
    for (const [conversationId, map] of this.typing) {
      for (const userId of [...map.keys()]) this.#clearTyping(conversationId, userId);
    }
  }

  // ---- presence ----

  /**
   * @param {Presence} p
   */
  #onPresence(p) {
    this.presence.set(p.userId, { status: p.status, lastSeen: p.lastSeen });
    this.#emit('presence', { userId: p.userId, status: p.status, lastSeen: p.lastSeen });
  }

  /**
   * `{status: 'online'|'away'|'offline', lastSeen}` of a user, or undefined when unknown.
   * @param {string} userId
   */
  presenceOf(userId) {
    return this.presence.get(userId);
  }

  /**
   * `presence.subscribe`: presence updates for these users from now on.
   * @param {string[]} userIds
   * @returns {Promise<void>}
   */
  subscribePresence(userIds) {
    return this.#request('presence.subscribe', { userIds }).then((p) => {
      for (const pr of p.presences || []) this.#onPresence(pr);
    });
  }

  /**
   * `presence.set` (Confab extension): `away` while the app is idle or hidden, `online` again after.
   * @param {boolean} away
   */
  setAway(away) {
    this.awayStatus = away;
    this.#send('presence.set', { status: away ? 'away' : 'online' });
  }
}
