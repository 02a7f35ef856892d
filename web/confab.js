// Confab JavaScript SDK: an ES module for browsers (and, for its pure parts, Node).
//
//   import { ConfabClient } from '/confab.js';
//   const session = await ConfabClient.login(location.origin, { username, password });
//   const client = new ConfabClient({ session });
//   client.addEventListener('message', (e) => console.log(e.detail.message));
//   await client.start();
//
// The full API is documented in docs/web-sdk.md. The pure parts (Timeline, Outbox, backoffDelay,
// MemoryStore) are exported for tests and have no browser dependency.

// ---------------------------------------------------------------------------------------------
// Pure logic
// ---------------------------------------------------------------------------------------------

/** Delay before reconnect attempt `attempt` (0-based): exponential with full jitter, bounded. */
export function backoffDelay(attempt, { base = 500, max = 15000 } = {}, random = Math.random) {
  const ceiling = Math.min(max, base * 2 ** Math.min(attempt, 30));
  // Full jitter, but never less than a quarter of the base so a flapping network is not hammered.
  return Math.round(base / 4 + random() * Math.max(0, ceiling - base / 4));
}

const STATUS_RANK = { failed: 0, pending: 1, sent: 2, delivered: 3, read: 4 };

/** The later of two delivery statuses of one's own message (a status never goes backwards). */
export function maxStatus(a, b) {
  if (!a) return b;
  if (!b) return a;
  return STATUS_RANK[b] > STATUS_RANK[a] ? b : a;
}

/** Server statuses (SENT/DELIVERED/READ) as SDK statuses (sent/delivered/read). */
export function normalizeStatus(status) {
  return typeof status === 'string' ? status.toLowerCase() : undefined;
}

/**
 * The messages of one conversation as this device knows them: ordered by sequenceNumber,
 * deduplicated by messageId, with pending (unacknowledged) messages after the confirmed ones.
 *
 * `syncedUpTo` is the sync cursor: every message with a sequence number in (base, syncedUpTo] is
 * present. A message above `syncedUpTo + 1` means a gap, which the client closes by syncing from
 * `syncedUpTo`.
 */
export class Timeline {
  constructor({ syncedUpTo = 0 } = {}) {
    this.syncedUpTo = syncedUpTo;
    this.byId = new Map();
    this.bySeq = new Map();
    this.pendingIds = [];
  }

  get size() {
    return this.byId.size;
  }

  /** Highest sequence number present, or 0. */
  get maxSeq() {
    let max = 0;
    for (const seq of this.bySeq.keys()) if (seq > max) max = seq;
    return max;
  }

  /** Lowest sequence number present, or null. */
  get minSeq() {
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

  get(messageId) {
    return this.byId.get(messageId);
  }

  /**
   * Adds or merges a message. Returns `{added, changed, gap}`: `added` for a message not seen
   * before, `changed` when anything visible changed, `gap` when a sequence number is missing
   * below this message.
   */
  insert(message) {
    const id = message.messageId;
    const seq = message.sequenceNumber ?? null;
    const existing = this.byId.get(id);
    if (existing) {
      let changed = false;
      if (existing.sequenceNumber == null && seq != null) {
        if (this.bySeq.has(seq)) return { added: false, changed: false, gap: false };
        this.pendingIds = this.pendingIds.filter((p) => p !== id);
        existing.sequenceNumber = seq;
        existing.timestamp = message.timestamp ?? existing.timestamp;
        this.bySeq.set(seq, id);
        changed = true;
      }
      const status = existing.senderId === message.senderId ? maxStatus(existing.status, message.status) : existing.status;
      if (status !== existing.status) {
        // A confirmed message leaves the pending/failed states for good.
        existing.status = status;
        changed = true;
      }
      if (existing.sequenceNumber != null && (existing.status === 'pending' || existing.status === 'failed')) {
        existing.status = 'sent';
        changed = true;
      }
      if (seq != null) this.#advance();
      return { added: false, changed, gap: seq != null && seq > this.syncedUpTo + 1 };
    }
    if (seq != null && this.bySeq.has(seq)) {
      // Same position, different id: the server never does this; keep what we have.
      return { added: false, changed: false, gap: false };
    }
    const copy = { ...message, sequenceNumber: seq };
    this.byId.set(id, copy);
    if (seq == null) {
      this.pendingIds.push(id);
      return { added: true, changed: true, gap: false };
    }
    this.bySeq.set(seq, id);
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
   */
  skipTo(seq) {
    if (seq > this.syncedUpTo) {
      this.syncedUpTo = seq;
      this.#advance();
    }
  }

  remove(messageId) {
    const m = this.byId.get(messageId);
    if (!m) return false;
    this.byId.delete(messageId);
    if (m.sequenceNumber != null) this.bySeq.delete(m.sequenceNumber);
    this.pendingIds = this.pendingIds.filter((p) => p !== messageId);
    return true;
  }

  /** Every message: confirmed ones by sequence number, then pending ones in the order written. */
  list() {
    const seqs = [...this.bySeq.keys()].sort((a, b) => a - b);
    const out = seqs.map((s) => this.byId.get(this.bySeq.get(s)));
    for (const id of this.pendingIds) out.push(this.byId.get(id));
    return out;
  }
}

/**
 * Own messages not yet acknowledged: when to (re)send them, and when to give up.
 * Attempts are counted only while connected; a message written offline waits without limit.
 */
export class Outbox {
  constructor({ ackTimeout = 4000, maxAttempts = 4 } = {}) {
    this.ackTimeout = ackTimeout;
    this.maxAttempts = maxAttempts;
    this.entries = new Map(); // messageId -> {message, attempts, dueAt, state}
  }

  /** Queues a message to be sent as soon as possible. */
  add(message, now = Date.now()) {
    if (!this.entries.has(message.messageId)) {
      this.entries.set(message.messageId, { message, attempts: 0, dueAt: now, state: 'pending' });
    }
  }

  has(messageId) {
    return this.entries.has(messageId);
  }

  /**
   * Entries to send now (in the order they were added); each one counts as an attempt and is
   * due again after the ack timeout. Entries past `maxAttempts` become failed instead; those are
   * returned in `failed`.
   */
  take(now = Date.now()) {
    const send = [];
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

  /** The server asked to wait (`RATE_LIMITED`): the message is due again later, not an attempt. */
  delay(messageId, untilMs) {
    const entry = this.entries.get(messageId);
    if (entry && entry.state === 'pending') {
      entry.attempts = Math.max(0, entry.attempts - 1);
      entry.dueAt = untilMs;
    }
  }

  /** Acknowledged: drops the entry. Returns the message, or undefined when it was not queued. */
  ack(messageId) {
    const entry = this.entries.get(messageId);
    this.entries.delete(messageId);
    return entry?.message;
  }

  /** Marks an entry failed now (a permanent error from the server). */
  fail(messageId) {
    const entry = this.entries.get(messageId);
    if (entry) entry.state = 'failed';
    return entry?.message;
  }

  /** Puts a failed entry back in the queue with a fresh attempt budget. */
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

/** The status of one's own message with sequence `seq`, given the other members' markers. */
export function statusFromMarkers(seq, otherIds, markers) {
  if (!otherIds.length) return undefined;
  let delivered = Infinity;
  let read = Infinity;
  for (const id of otherIds) {
    const m = markers[id] || { delivered: 0, read: 0 };
    read = Math.min(read, m.read || 0);
    delivered = Math.min(delivered, Math.max(m.delivered || 0, m.read || 0));
  }
  if (read >= seq) return 'read';
  if (delivered >= seq) return 'delivered';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Storage: IndexedDB in browsers, memory elsewhere (same interface)
// ---------------------------------------------------------------------------------------------

/** Local storage that forgets everything when the page goes away (tests, private mode). */
export class MemoryStore {
  constructor() {
    this.conversations = new Map();
    this.messages = new Map();
    this.outbox = new Map();
    this.users = new Map();
  }
  async open() {}
  async close() {}
  async destroy() {
    this.conversations.clear();
    this.messages.clear();
    this.outbox.clear();
    this.users.clear();
  }
  async getConversations() {
    return [...this.conversations.values()];
  }
  async putConversation(c) {
    this.conversations.set(c.conversationId, structuredClone(c));
  }
  async deleteConversation(id) {
    this.conversations.delete(id);
    for (const [k, m] of this.messages) if (m.conversationId === id) this.messages.delete(k);
  }
  async putMessages(list) {
    for (const m of list) this.messages.set(m.messageId, structuredClone(m));
  }
  /** Up to `limit` messages of a conversation with sequence below `beforeSeq`, ascending. */
  async getMessages(conversationId, beforeSeq, limit) {
    return [...this.messages.values()]
      .filter((m) => m.conversationId === conversationId && m.sequenceNumber < beforeSeq)
      .sort((a, b) => b.sequenceNumber - a.sequenceNumber)
      .slice(0, limit)
      .reverse();
  }
  async getOutbox() {
    return [...this.outbox.values()].sort((a, b) => a.localTime - b.localTime);
  }
  async putOutbox(m) {
    this.outbox.set(m.messageId, structuredClone(m));
  }
  async deleteOutbox(id) {
    this.outbox.delete(id);
  }
  async getUsers() {
    return [...this.users.values()];
  }
  async putUser(u) {
    this.users.set(u.userId, structuredClone(u));
  }
}

function promisify(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** IndexedDB storage, one database per user: history opens instantly and offline. */
export class IndexedDBStore {
  constructor(name) {
    this.name = name;
    this.db = null;
  }

  async open() {
    const request = indexedDB.open(this.name, 1);
    request.onupgradeneeded = () => {
      const db = request.result;
      db.createObjectStore('conversations', { keyPath: 'conversationId' });
      const messages = db.createObjectStore('messages', { keyPath: 'messageId' });
      messages.createIndex('bySeq', ['conversationId', 'sequenceNumber']);
      db.createObjectStore('outbox', { keyPath: 'messageId' });
      db.createObjectStore('users', { keyPath: 'userId' });
    };
    this.db = await promisify(request);
    this.db.onversionchange = () => this.db.close();
  }

  async close() {
    this.db?.close();
    this.db = null;
  }

  async destroy() {
    await this.close();
    await promisify(indexedDB.deleteDatabase(this.name)).catch(() => {});
  }

  #tx(stores, mode = 'readonly') {
    return this.db.transaction(stores, mode);
  }

  #done(tx) {
    return new Promise((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }

  async getConversations() {
    return promisify(this.#tx('conversations').objectStore('conversations').getAll());
  }

  async putConversation(c) {
    const tx = this.#tx('conversations', 'readwrite');
    tx.objectStore('conversations').put(c);
    return this.#done(tx);
  }

  async deleteConversation(id) {
    const tx = this.#tx(['conversations', 'messages'], 'readwrite');
    tx.objectStore('conversations').delete(id);
    const range = IDBKeyRange.bound([id, 0], [id, Infinity]);
    const cursorReq = tx.objectStore('messages').index('bySeq').openCursor(range);
    cursorReq.onsuccess = () => {
      const cursor = cursorReq.result;
      if (cursor) {
        cursor.delete();
        cursor.continue();
      }
    };
    return this.#done(tx);
  }

  async putMessages(list) {
    if (!list.length) return;
    const tx = this.#tx('messages', 'readwrite');
    const store = tx.objectStore('messages');
    for (const m of list) store.put(m);
    return this.#done(tx);
  }

  async getMessages(conversationId, beforeSeq, limit) {
    const range = IDBKeyRange.bound([conversationId, 0], [conversationId, beforeSeq], false, true);
    const index = this.#tx('messages').objectStore('messages').index('bySeq');
    return new Promise((resolve, reject) => {
      const out = [];
      const req = index.openCursor(range, 'prev');
      req.onsuccess = () => {
        const cursor = req.result;
        if (cursor && out.length < limit) {
          out.push(cursor.value);
          cursor.continue();
        } else {
          resolve(out.reverse());
        }
      };
      req.onerror = () => reject(req.error);
    });
  }

  async getOutbox() {
    const all = await promisify(this.#tx('outbox').objectStore('outbox').getAll());
    return all.sort((a, b) => a.localTime - b.localTime);
  }

  async putOutbox(m) {
    const tx = this.#tx('outbox', 'readwrite');
    tx.objectStore('outbox').put(m);
    return this.#done(tx);
  }

  async deleteOutbox(id) {
    const tx = this.#tx('outbox', 'readwrite');
    tx.objectStore('outbox').delete(id);
    return this.#done(tx);
  }

  async getUsers() {
    return promisify(this.#tx('users').objectStore('users').getAll());
  }

  async putUser(u) {
    const tx = this.#tx('users', 'readwrite');
    tx.objectStore('users').put(u);
    return this.#done(tx);
  }
}

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

/** An error answered by the server (`code` is the protocol's error code) or the network. */
export class ConfabError extends Error {
  constructor(code, message, { status = 0, retryAfter } = {}) {
    super(message || code);
    this.name = 'ConfabError';
    this.code = code;
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

function uuid() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  return 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, (c) => {
    const r = (Math.random() * 16) | 0;
    return (c === 'x' ? r : (r & 0x3) | 0x8).toString(16);
  });
}

async function rest(baseUrl, method, path, { token, body } = {}) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(`${baseUrl}/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ConfabError('NETWORK', 'The server cannot be reached.', { status: 0 });
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ConfabError(data?.error || 'HTTP_' + response.status, data?.message || response.statusText, {
      status: response.status,
      retryAfter: data?.retryAfter,
    });
  }
  return data;
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
  /** `POST /auth/register`; returns a session object `{baseUrl, token, userId, username, displayName, expiresAt}`. */
  static async register(baseUrl, { username, password, displayName }) {
    const r = await rest(baseUrl, 'POST', '/auth/register', { body: { username, password, displayName } });
    return { baseUrl, ...r };
  }

  /** `POST /auth/login`; returns a session object. */
  static async login(baseUrl, { username, password }) {
    const r = await rest(baseUrl, 'POST', '/auth/login', { body: { username, password } });
    return { baseUrl, ...r };
  }

  /** Keeps a session in localStorage so the next page load starts signed in. */
  static saveSession(session) {
    localStorage.setItem(SESSION_KEY, JSON.stringify(session));
  }

  /** The saved session, or null when there is none or it has expired. */
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
   * @param {object} options.session  from register/login/loadSession
   * @param {string} [options.deviceId]  defaults to this browser's stable id
   * @param {object} [options.store]  IndexedDBStore (default in browsers) or MemoryStore
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
    this.state = 'idle';
    this.conversations = new Map(); // id -> conversation (with .local: client-side state)
    this.timelines = new Map(); // id -> Timeline
    this.users = new Map(); // id -> {userId, username, displayName}
    this.presence = new Map(); // id -> {status, lastSeen}
    this.typing = new Map(); // conversationId -> Map(userId -> timer)
    this.outbox = new Outbox({ ackTimeout, maxAttempts });
    this.ws = null;
    this.attempt = 0;
    this.stopped = true;
    this.requests = new Map();
    this.nextRequestId = 1;
    this.timers = {};
    this.loadedFromStore = new Set();
    this.syncing = null;
    this.resyncNeeded = false;
    this.typingSent = new Map();
    this.userFetches = new Map();
    this.onOnline = () => this.#onNetworkOnline();
    this.onOffline = () => this.#onNetworkOffline();
  }

  // ---- events ----

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

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
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000);
    }
    this.#setState('closed');
  }

  /** Stops, forgets the saved session and deletes this user's local data. */
  async logout() {
    this.stop();
    ConfabClient.clearSession();
    await this.store.destroy();
  }

  /** `fetch` against the REST API with this session's token. */
  api(method, path, body) {
    return rest(this.baseUrl, method, path, { token: this.token, body });
  }

  connect() {
    if (this.stopped || this.ws) return;
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
    const ws = new WebSocket(url.toString());
    this.ws = ws;
    ws.onmessage = (event) => {
      if (this.ws !== ws) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.lastFrameAt = Date.now();
      this.#onFrame(frame);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.#onClosed(event.code);
    };
    ws.onerror = () => {};
  }

  #send(type, payload, id) {
    if (!this.ws || this.ws.readyState !== 1 || this.state !== 'online') return false;
    const frame = { type, payload };
    if (id !== undefined) frame.id = String(id);
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** A frame expecting a reply (matched by request id); rejects on an error frame or timeout. */
  #request(type, payload, timeoutMs = 15000) {
    const id = 'r' + this.nextRequestId++;
    return new Promise((resolve, reject) => {
      if (!this.#send(type, payload, id)) {
        reject(new ConfabError('OFFLINE', 'not connected'));
        return;
      }
      const timer = setTimeout(() => {
        this.requests.delete(id);
        reject(new ConfabError('TIMEOUT', `${type} timed out`));
      }, timeoutMs);
      this.requests.set(id, { resolve, reject, timer });
    });
  }

  #onClosed(code) {
    this.ws = null;
    clearInterval(this.timers.heartbeat);
    clearTimeout(this.timers.outbox);
    for (const { reject, timer } of this.requests.values()) {
      clearTimeout(timer);
      reject(new ConfabError('OFFLINE', 'connection closed'));
    }
    this.requests.clear();
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
      if (err.status === 401) {
        this.stop();
        this.#emit('unauthorized', { error: err });
      }
    }
  }

  #onNetworkOffline() {
    if (this.stopped) return;
    clearTimeout(this.timers.reconnect);
    if (this.ws) {
      const ws = this.ws;
      ws.close(1000);
      this.#onClosed(1006);
    }
    this.#setState('offline');
  }

  #onNetworkOnline() {
    if (this.stopped) return;
    this.attempt = 0;
    if (!this.ws) this.connect();
  }

  /** Reconnects now instead of waiting for the backoff timer (e.g. a "retry now" button). */
  reconnectNow() {
    this.attempt = 0;
    if (!this.ws && !this.stopped) this.connect();
  }

  async #onConnected(payload) {
    this.attempt = 0;
    this.connection = payload;
    this.serverTimeOffset = payload.serverTime - Date.now();
    this.#setState('online', { connectionId: payload.connectionId });
    const interval = payload.heartbeatInterval || 30000;
    clearInterval(this.timers.heartbeat);
    this.timers.heartbeat = setInterval(() => {
      // The server closes a connection silent for 3 intervals; a server silent for 2 is presumed gone.
      if (Date.now() - this.lastFrameAt > interval * 2 + 5000 && this.ws) {
        const ws = this.ws;
        ws.close(4000);
        this.#onClosed(4000);
        return;
      }
      this.#send('heartbeat', { timestamp: Date.now() });
    }, interval);
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

  #onFrame(frame) {
    const p = frame.payload || {};
    if (frame.id && this.requests.has(frame.id) && frame.type !== 'message.ack') {
      const { resolve, reject, timer } = this.requests.get(frame.id);
      this.requests.delete(frame.id);
      clearTimeout(timer);
      if (frame.type === 'error') reject(new ConfabError(p.error, p.message, { retryAfter: p.retryAfter }));
      else resolve(p);
      return;
    }
    switch (frame.type) {
      case 'connected':
        this.#onConnected(p);
        break;
      case 'message.new':
        this.#onMessages(p.conversationId, [p], { live: true });
        break;
      case 'message.ack':
        this.#onAck(p);
        break;
      case 'message.delivered':
        this.#onMarker(p.conversationId, p.deliveredTo, 'delivered', p.upToSequence);
        break;
      case 'message.read_receipt':
        this.#onMarker(p.conversationId, p.readBy, 'read', p.readUpToSequence);
        break;
      case 'typing.update':
        this.#onTyping(p);
        break;
      case 'presence.bulk':
        for (const pr of p.presences || []) this.#onPresence(pr);
        break;
      case 'presence.update':
        this.#onPresence(p);
        break;
      case 'conversation.updated':
        this.#upsertConversation(p, { sync: true });
        break;
      case 'sync.result':
        break;
      case 'error':
        this.#onErrorFrame(frame.id, p);
        break;
      default:
        break;
    }
  }

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
    const last = (c) => {
      const t = this.timelines.get(c.conversationId);
      const msgs = t ? t.list() : [];
      const m = msgs[msgs.length - 1];
      return (m && (m.timestamp || m.localTime)) || c.lastMessage?.timestamp || c.createdAt || 0;
    };
    return [...this.conversations.values()].sort((a, b) => last(b) - last(a));
  }

  /** The newest message of a conversation as this device knows it (pending included). */
  lastMessage(conversationId) {
    const t = this.timelines.get(conversationId);
    const list = t ? t.list() : [];
    return list[list.length - 1] || this.conversations.get(conversationId)?.lastMessage || null;
  }

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

  #dropConversation(id) {
    if (!this.conversations.has(id)) return;
    this.conversations.delete(id);
    this.timelines.delete(id);
    this.store.deleteConversation(id).catch(() => {});
    this.#emit('conversations', {});
    this.#emit('conversation.removed', { conversationId: id });
  }

  #persistConversation(id) {
    const c = this.conversations.get(id);
    if (!c) return;
    const t = this.timelines.get(id);
    if (t) c.local.syncedUpTo = t.syncedUpTo;
    this.store.putConversation(c).catch(() => {});
  }

  /** `POST /conversations` (direct); returns the conversation. */
  async createDirect(userId) {
    const c = await this.api('POST', '/conversations', { type: 'direct', participantIds: [userId] });
    this.#upsertConversation(c);
    return this.conversations.get(c.conversationId);
  }

  /** `POST /groups`; returns the conversation. */
  async createGroup(name, participantIds, settings) {
    const c = await this.api('POST', '/groups', { name, participantIds, settings });
    this.#upsertConversation(c);
    return this.conversations.get(c.conversationId);
  }

  /** `POST /conversations/{id}/members`. */
  async addMembers(conversationId, userIds) {
    const c = await this.api('POST', `/conversations/${encodeURIComponent(conversationId)}/members`, { userIds });
    this.#upsertConversation(c);
    return this.conversations.get(c.conversationId);
  }

  /** Leaves a group (`DELETE /conversations/{id}/members/{me}`). */
  async leave(conversationId) {
    await this.api(
      'DELETE',
      `/conversations/${encodeURIComponent(conversationId)}/members/${encodeURIComponent(this.userId)}`,
    );
    this.#dropConversation(conversationId);
  }

  /** `GET /users?query=`. */
  async searchUsers(query, limit = 20) {
    const { users } = await this.api('GET', `/users?query=${encodeURIComponent(query)}&limit=${limit}`);
    for (const u of users) this.#rememberUser(u);
    return users;
  }

  /** A user's profile: cached, or fetched (a `user` event fires when it arrives). */
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

  #rememberUser(u) {
    const old = this.users.get(u.userId);
    this.users.set(u.userId, u);
    if (!old || old.displayName !== u.displayName || old.username !== u.username) {
      this.store.putUser(u).catch(() => {});
      this.#emit('user', { user: u });
    }
    return u;
  }

  /** Display name of a user (or the username, or the id while unknown). */
  userName(userId) {
    const u = this.user(userId);
    return u ? u.displayName || u.username : '…';
  }

  /** Name to show for a conversation: the group name, or the other person in a direct chat. */
  conversationName(conversationId) {
    const c = this.conversations.get(conversationId);
    if (!c) return '';
    if (c.type === 'group') return c.name || 'Group';
    const other = this.peerId(conversationId);
    return other ? this.userName(other) : 'Just you';
  }

  /** The other member of a direct conversation. */
  peerId(conversationId) {
    const c = this.conversations.get(conversationId);
    if (!c || c.type !== 'direct') return null;
    return c.participants.find((p) => p.userId !== this.userId)?.userId || null;
  }

  // ---- messages ----

  /**
   * Loads what this device has of a conversation (IndexedDB first, then the newest page from the
   * server for fresh statuses). Call when a conversation is opened.
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

  /** Messages of a conversation in display order. */
  messages(conversationId) {
    return this.timeline(conversationId).list();
  }

  /**
   * Sends a text message: it appears at once with status `pending`, is retried with the same
   * messageId until acknowledged, and turns `failed` after the retry bound (see `retry`).
   * Returns the local message.
   */
  sendText(conversationId, text) {
    return this.send(conversationId, { type: 'text', text });
  }

  send(conversationId, content) {
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

  /** Puts a failed message back in the queue. */
  retry(messageId) {
    if (!this.outbox.retry(messageId)) return false;
    const m = this.outbox.entries.get(messageId).message;
    this.#setOwnStatus(m.conversationId, messageId, 'pending');
    this.#flushOutbox();
    return true;
  }

  /** Drops a failed message that will not be sent. */
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
      const entry = this.outbox.entries.get(m.messageId);
      this.#send(
        'message.send',
        { messageId: m.messageId, conversationId: m.conversationId, content: m.content },
        `s:${m.messageId}:${entry.attempts}`,
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
   */
  #onMessages(conversationId, list, { live = false, ack = false, fromStore = false } = {}) {
    if (!list.length) return;
    const t = this.timeline(conversationId);
    const c = this.conversations.get(conversationId);
    const fresh = [];
    let changed = false;
    let gap = false;
    for (const raw of list) {
      const m = { ...raw };
      if (m.senderId === this.userId) {
        m.status = fromStore ? m.status : maxStatus(normalizeStatus(m.status) || 'sent', this.#statusFor(conversationId, m.sequenceNumber));
      } else {
        delete m.status;
      }
      const r = t.insert(m);
      if (r.changed) changed = true;
      if (r.gap) gap = true;
      if ((r.added || r.changed) && !fromStore && m.sequenceNumber != null) fresh.push(t.get(m.messageId));
      if (r.added && m.senderId !== this.userId && live) {
        this.#clearTyping(conversationId, m.senderId);
        this.#emit('message', { conversationId, message: t.get(m.messageId) });
      }
    }
    if (c) {
      // Writing a message moves its sender's read marker to it (server rule): a message from
      // another member is also their read receipt for everything before it.
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
        if (m.senderId === this.userId && m.sequenceNumber > (c.lastReadSequence || 0)) c.lastReadSequence = m.sequenceNumber;
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
        if (err.code !== 'OFFLINE') this.#emit('error', { error: err });
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

  #otherMembers(conversationId) {
    const c = this.conversations.get(conversationId);
    if (!c || (c.memberCount && c.memberCount > c.participants.length)) return [];
    return c.participants.map((p) => p.userId).filter((id) => id !== this.userId);
  }

  #statusFor(conversationId, seq) {
    const c = this.conversations.get(conversationId);
    if (!c || seq == null) return undefined;
    return statusFromMarkers(seq, this.#otherMembers(conversationId), c.local.markers || {});
  }

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
      if (s !== msg.status) {
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

  /** `GET /conversations/{id}/messages/{messageId}/receipts`: who has received and read a message. */
  receipts(conversationId, messageId) {
    return this.api(
      'GET',
      `/conversations/${encodeURIComponent(conversationId)}/messages/${encodeURIComponent(messageId)}/receipts`,
    );
  }

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

  /** Call on every keystroke in a composer: sends `typing.start` at most every 3 s. */
  typingActivity(conversationId) {
    const now = Date.now();
    const last = this.typingSent.get(conversationId) || 0;
    if (now - last > 3000) {
      if (this.#send('typing.start', { conversationId })) this.typingSent.set(conversationId, now);
    }
    clearTimeout(this.timers['typing:' + conversationId]);
    this.timers['typing:' + conversationId] = setTimeout(() => this.stopTyping(conversationId), 4000);
  }

  /** The composer was cleared or the message sent. */
  stopTyping(conversationId) {
    clearTimeout(this.timers['typing:' + conversationId]);
    if (this.typingSent.has(conversationId)) {
      this.typingSent.delete(conversationId);
      this.#send('typing.stop', { conversationId });
    }
  }

  /** User ids currently typing in a conversation. */
  typingUsers(conversationId) {
    return [...(this.typing.get(conversationId)?.keys() || [])];
  }

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

  #onPresence(p) {
    this.presence.set(p.userId, { status: p.status, lastSeen: p.lastSeen });
    this.#emit('presence', { userId: p.userId, status: p.status, lastSeen: p.lastSeen });
  }

  /** `{status: 'online'|'away'|'offline', lastSeen}` of a user, or undefined when unknown. */
  presenceOf(userId) {
    return this.presence.get(userId);
  }

  /** `presence.subscribe`: presence updates for these users from now on. */
  subscribePresence(userIds) {
    return this.#request('presence.subscribe', { userIds }).then((p) => {
      for (const pr of p.presences || []) this.#onPresence(pr);
    });
  }

  /** `presence.set` (Confab extension): `away` while the app is idle or hidden, `online` again after. */
  setAway(away) {
    this.awayStatus = away;
    this.#send('presence.set', { status: away ? 'away' : 'online' });
  }
}
