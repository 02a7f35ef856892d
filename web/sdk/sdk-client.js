// The client: `ConfabClient` puts the SDK's parts together and is the API apps use. Each job is a
// part with its own module, wired here through small callbacks:
//
//   sdk-connection.js     Connection: the WebSocket's lifecycle, reconnect, online/offline
//   sdk-conversations.js  Conversations: the list, each one's timeline and local state
//   sdk-users.js          Users: profiles and directory search
//   sdk-messages.js       Messages: taking messages in from any source, history
//   sdk-sending.js        Sender: writing messages, the outbox on the wire, acks
//   sdk-sync.js           Sync: catching up from each conversation's cursor
//   sdk-lifecycle.js      Lifecycle: replies, edits, deletes, reactions, changed messages in
//   sdk-receipts.js       Receipts: markers, own-message statuses, received/read reports
//   sdk-presence.js       PresenceTracker and Typing
//   sdk-blocks.js         Blocks: the users this user blocks (`client.blocks`)
//   sdk-search.js         Search: message search (`client.search`)
//   sdk-admin.js          reporting messages, and AdminApi (`client.admin`)
//   sdk-attachments.js    Attachments: uploads (progress, abort), downloads, thumbnails, the
//                         content that links an upload
//   sdk-push.js           Push: push subscriptions of this user's devices; muting conversations
//
// docs/web-sdk.md documents the API.

import { Outbox } from './sdk-outbox.js';
import { MemoryStore, IndexedDBStore } from './sdk-storage.js';
import { ConfabError, rest } from './sdk-transport.js';
import { ExpiryTimers } from './sdk-expiry.js';
import { emitter } from './sdk-events.js';
import { clearSession, deviceId, loadSession, login, register, registration, saveSession } from './sdk-session.js';
import { Connection } from './sdk-connection.js';
import { Conversations } from './sdk-conversations.js';
import { Users } from './sdk-users.js';
import { Messages } from './sdk-messages.js';
import { Sender } from './sdk-sending.js';
import { Sync } from './sdk-sync.js';
import { Lifecycle } from './sdk-lifecycle.js';
import { Receipts } from './sdk-receipts.js';
import { PresenceTracker, Typing } from './sdk-presence.js';
import { Blocks } from './sdk-blocks.js';
import { Search } from './sdk-search.js';
import { AdminApi, report } from './sdk-admin.js';
import { Attachments, attachmentContent } from './sdk-attachments.js';
import { Push } from './sdk-push.js';
import { BANNED } from './sdk-connection.js';

export { deviceId };

/** @typedef {import('./types/proto.js').User} User */
/** @typedef {import('./types/proto.js').Profile} Profile */
/** @typedef {import('./types/proto.js').Content} Content */
/** @typedef {import('./types/proto.js').Message} Message */
/** @typedef {import('./types/proto.js').GroupSettings} GroupSettings */
/** @typedef {import('./types/proto.js').AuthResponse} AuthResponse */
/** @typedef {import('./types/proto.js').ServerEnvelope} ServerEnvelope */
/** @typedef {import('./sdk-timeline.js').Timeline} Timeline */
/** @typedef {import('./sdk-timeline.js').LocalMessage} LocalMessage */
/** @typedef {import('./sdk-storage.js').Store} Store */
/** @typedef {import('./sdk-session.js').Session} Session */
/** @typedef {import('./sdk-events.js').ClientEvents} ClientEvents */
/** @typedef {import('./sdk-events.js').ConnectionState} ConnectionState */
/** @typedef {import('./sdk-conversations.js').LocalState} LocalState */
/** @typedef {import('./sdk-conversations.js').LocalConversation} LocalConversation */
/** @typedef {import('./types/proto.js').Attachment} Attachment */
/** @typedef {import('./sdk-attachments.js').UploadData} UploadData */
/** @typedef {import('./sdk-attachments.js').UploadOptions} UploadOptions */
/** @typedef {import('./sdk-attachments.js').ObjectUrl} ObjectUrl */
/** @typedef {import('./sdk-push.js').BrowserPushSubscription} BrowserPushSubscription */
/** @typedef {import('./types/proto.js').PushKind} PushKind */

export class ConfabClient extends EventTarget {
  static register = register;
  static registration = registration;
  static login = login;
  static saveSession = saveSession;
  static loadSession = loadSession;
  static clearSession = clearSession;

  #emit = emitter(this);
  #connection;
  #conversations;
  #users;
  #receipts;
  #messages;
  #sender;
  #sync;
  #lifecycle;
  #expiry;
  #presence;
  #typing;
  #attachments;
  #push;
  #isSignedOut = false;

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
    this.outbox = new Outbox({ ackTimeout, maxAttempts });
    const emit = this.#emit;
    const { userId, store: db } = this;
    /** @type {(method: string, path: string, body?: unknown) => Promise<any>} */
    const api = (method, path, body) => this.api(method, path, body);
    const conn = new Connection({
      url: () => {
        const url = new URL('/ws', this.baseUrl.replace(/^http/, 'ws'));
        url.searchParams.set('token', this.token);
        url.searchParams.set('device_id', this.deviceId);
        return url.toString();
      },
      backoff,
      onState: (detail) => emit('connection', detail),
      onConnected: () => this.#onConnected(),
      onFrame: (frame) => this.#onFrame(frame),
      onDown: () => {
        this.#sender.disconnected();
        this.#typing.clearAll();
      },
      onFailing: () => this.#checkToken(),
      onRevoked: (code) =>
        code === BANNED
          ? this.#banned(code)
          : this.#signedOut('revoked', new ConfabError('SESSION_REVOKED', 'session revoked', { status: 0 }), code),
    });
    this.#connection = conn;
    const isOnline = () => conn.online;
    /** @type {import('./sdk-presence.js').SendFrame} */
    const send = (type, payload) => conn.send(type, payload);
    this.#users = new Users({ api, store: db, emit });
    this.#presence = new PresenceTracker({ send, request: (type, payload) => conn.request(type, payload), emit });
    this.#typing = new Typing({ userId, send, emit });
    this.#conversations = new Conversations({
      userId,
      api,
      store: db,
      users: this.#users,
      emit,
      onAdded: (c, { sync }) => {
        const peer = this.peerId(c.conversationId);
        if (peer) send('presence.subscribe', { userIds: [peer] });
        if (sync) this.resync();
      },
    });
    const conversations = this.#conversations;
    this.#receipts = new Receipts({ userId, conversations, store: db, send, api, emit });
    this.#messages = new Messages({
      userId,
      conversations,
      receipts: this.#receipts,
      store: db,
      api,
      isOnline,
      resync: () => this.resync(),
      onArrived: (conversationId, senderId) => this.#typing.clear(conversationId, senderId),
      emit,
    });
    const messages = this.#messages;
    this.#sender = new Sender({
      userId,
      outbox: this.outbox,
      conversations,
      store: db,
      send: (type, payload, id) => conn.send(type, payload, id),
      isOnline,
      ingest: (conversationId, list, source) => messages.ingest(conversationId, list, source),
      emit,
    });
    const lifecycle = new Lifecycle({
      conversations,
      store: db,
      api,
      request: (type, payload) => conn.request(type, payload),
      isOnline,
      ingest: (conversationId, list, source) => messages.ingest(conversationId, list, source),
      resync: () => this.resync(),
      emit,
    });
    this.#lifecycle = lifecycle;
    // Every change to a conversation's messages may bring an expiry to watch for.
    const expiry = new ExpiryTimers({ conversations, store: db, emit });
    this.#expiry = expiry;
    this.addEventListener('messages', (e) => expiry.watch(/** @type {CustomEvent} */ (e).detail.conversationId));
    this.#sync = new Sync({
      conversationIds: () => conversations.conversations.keys(),
      cursor: (id) => conversations.timeline(id).syncedUpTo,
      updateCursor: (id) => conversations.timeline(id).updates.upTo,
      request: (payload) => conn.request('sync', payload),
      addConversation: (c) => conversations.upsert(c, { quiet: true }),
      apply: (r) => {
        const c = conversations.conversations.get(r.conversationId);
        if (!c) return false;
        c.lastSequence = Math.max(c.lastSequence || 0, r.lastSequence || 0);
        messages.ingest(r.conversationId, r.messages || [], {});
        lifecycle.applySync(r);
        return true;
      },
      isOnline,
      emit,
    });
    /** @type {Map<string, LocalConversation>} id → conversation, with `local` (cursor, markers) */
    this.conversations = conversations.conversations;
    /** @type {Map<string, Timeline>} */
    this.timelines = conversations.timelines;
    /** @type {Map<string, User>} cached profiles */
    this.users = this.#users.users;
    /** @type {Map<string, { status: import('./types/proto.js').PresenceStatus, lastSeen: number | null }>} */
    this.presence = this.#presence.presence;
    /** The users this user blocks: `refresh()`, `block(id)`, `unblock(id)`, `isBlocked(id)`, `list`. */
    this.blocks = new Blocks({ api, emit });
    /** Message search: `messages(q, {conversationId, senderId, before, after, limit, cursor})`. */
    this.search = new Search(api);
    /** The server administrators' API (sdk-admin.js); `FORBIDDEN` unless `profile().admin`. */
    this.admin = new AdminApi(api);
    this.#attachments = new Attachments({
      baseUrl: () => this.baseUrl,
      token: () => this.token,
      failed: (err) => this.#failed(err),
    });
    this.#push = new Push({ api, baseUrl: () => this.baseUrl, deviceId: () => this.deviceId, conversations });
  }

  /** @returns {ConnectionState} */
  get state() {
    return this.#connection.state;
  }

  /** The last `connected` frame (connection id, heartbeat interval, server time). */
  get connection() {
    return this.#connection.connected;
  }

  /** Server clock minus this one's, as of the last connection (ms). */
  get serverTimeOffset() {
    return this.#connection.serverTimeOffset;
  }

  // ---- lifecycle ----

  /** Opens local storage, shows what it holds, then connects. Resolves once local data is loaded. */
  async start() {
    await this.store.open();
    this.#users.load(await this.store.getUsers());
    this.#conversations.load(await this.store.getConversations());
    this.#sender.restore(await this.store.getOutbox());
    this.#emit('conversations', {});
    this.#connection.start();
  }

  /** Closes the connection and stops reconnecting (local data is kept). */
  stop() {
    this.#sender.stopTimers();
    this.#messages.stopTimers();
    this.#lifecycle.stopTimers();
    this.#typing.stopTimers();
    this.#expiry.stop();
    this.#connection.stop();
  }

  /**
   * Signs out: `POST /auth/logout` revokes this session's token on the server (best effort: when the
   * server cannot be reached, or does not answer within 5 s, signing out here goes on), then stops,
   * forgets the saved session and deletes this user's local data.
   */
  async logout() {
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;
    const revoked = this.#isSignedOut
      ? Promise.resolve()
      : Promise.race([
          rest(this.baseUrl, 'POST', '/auth/logout', { token: this.token }).catch(() => {}),
          new Promise((resolve) => (timer = setTimeout(resolve, 5000))),
        ]).finally(() => clearTimeout(timer));
    this.#isSignedOut = true;
    this.stop();
    clearSession();
    await Promise.all([this.store.destroy().catch(() => {}), revoked]);
  }

  /**
   * `POST /auth/logout-all`: revokes every session of this user (all devices and browsers; theirs
   * get a `signedout` event), then signs out here like `logout`. Rejects, and stays signed in, when
   * the server refuses or cannot be reached.
   */
  async logoutAll() {
    // The server closes this session's connection too (4003): that is this sign-out, not a revocation.
    this.#isSignedOut = true;
    try {
      await rest(this.baseUrl, 'POST', '/auth/logout-all', { token: this.token });
    } catch (err) {
      this.#isSignedOut = false;
      throw err;
    }
    this.stop();
    clearSession();
    await this.store.destroy().catch(() => {});
  }

  /**
   * `PUT /users/me/password`. Every other session of this user is signed out; this one stays.
   * Rejects with a `ConfabError`: `UNAUTHORIZED` (status 401) when the old password is wrong (this
   * is not a signed-out session), `INVALID_REQUEST` naming the rule a weak new password breaks,
   * `RATE_LIMITED` with `retryAfter`.
   * @param {string} oldPassword
   * @param {string} newPassword
   * @returns {Promise<void>}
   */
  async changePassword(oldPassword, newPassword) {
    await rest(this.baseUrl, 'PUT', '/users/me/password', { token: this.token, body: { oldPassword, newPassword } });
  }

  /**
   * `GET /users/me`: this user with their own settings (`showLastSeen`).
   * @returns {Promise<Profile>}
   */
  async profile() {
    /** @type {Profile} */
    const profile = await this.api('GET', '/users/me');
    return profile;
  }

  /**
   * `PATCH /users/me`: changes what is given: the display name (empty: the username) and/or
   * `showLastSeen` (whether others see when this user was last seen; off, this user sees nobody's
   * either). The users cache and the saved session take the new profile, and a `user` event
   * fires. Resolves to the user with their settings.
   * @param {{ displayName?: string, showLastSeen?: boolean }} changes
   * @returns {Promise<Profile>}
   */
  async updateProfile({ displayName, showLastSeen }) {
    /** @type {import('./types/proto.js').UpdateProfileRequest} */
    const body = {};
    if (displayName !== undefined) body.displayName = displayName;
    if (showLastSeen !== undefined) body.showLastSeen = showLastSeen;
    /** @type {Profile} */
    const user = await this.api('PATCH', '/users/me', body);
    this.#users.remember(user);
    this.session = { ...this.session, displayName: user.displayName };
    const saved = loadSession();
    if (saved && saved.token === this.token) saveSession({ ...saved, displayName: user.displayName });
    return user;
  }

  /** True once this client is signed out (`logout`, `logoutAll`, or a revoked session). */
  get signedOut() {
    return this.#isSignedOut;
  }

  /**
   * The server no longer accepts this session: stop (no reconnecting), forget the saved session,
   * and tell the app (`signedout`; `unauthorized` too, for a REST call answered 401).
   * @param {'revoked' | 'unauthorized' | 'banned'} reason
   * @param {unknown} error  for `banned`, a `ConfabError` whose `ban` says why and until when
   * @param {number} [code]  the WebSocket close code (4003, 4004) when the connection said so
   */
  #signedOut(reason, error, code) {
    if (this.#isSignedOut) return;
    this.#isSignedOut = true;
    this.stop();
    clearSession();
    if (reason === 'unauthorized') this.#emit('unauthorized', { error });
    this.#emit('signedout', code === undefined ? { reason, error } : { reason, error, code });
  }

  /**
   * The connection was closed because the user was banned: ask the server why (the `403 BANNED`
   * answer carries the reason and end) and sign out; if the ban is already over, reconnect.
   * @param {number} code
   */
  async #banned(code) {
    try {
      await rest(this.baseUrl, 'GET', '/users/me', { token: this.token });
      this.#connection.start();
    } catch (err) {
      const error =
        err instanceof ConfabError && err.code === 'BANNED' ? err : new ConfabError('BANNED', 'account suspended', { status: 403 });
      this.#signedOut('banned', error, code);
    }
  }

  /**
   * `fetch` against the REST API with this session's token.
   * @param {string} method
   * @param {string} path  under `/api/v1`
   * @param {unknown} [body]
   * @returns {Promise<any>}
   */
  async api(method, path, body) {
    try {
      return await rest(this.baseUrl, method, path, { token: this.token, body });
    } catch (err) {
      this.#failed(err);
      throw err;
    }
  }

  /**
   * An authenticated call failed. Every such call needs the session: a 401 means the token was
   * revoked or has expired, a `403 BANNED` that the user is suspended.
   * @param {unknown} err
   */
  #failed(err) {
    if (err instanceof ConfabError && err.status === 401) this.#signedOut('unauthorized', err);
    if (err instanceof ConfabError && err.code === 'BANNED') this.#signedOut('banned', err);
  }

  /** Opens the connection unless one is open (or the client is stopped or the browser offline). */
  connect() {
    this.#connection.connect();
  }

  /** Reconnects now instead of waiting for the backoff timer (e.g. a "retry now" button). */
  reconnectNow() {
    this.#connection.reconnectNow();
  }

  /** Reconnecting keeps failing: a token the server no longer accepts stops the client (see `api`). */
  async #checkToken() {
    try {
      await this.api('GET', '/users/me');
    } catch {
      /* a 401 signed out in `api`; anything else: keep trying */
    }
  }

  async #onConnected() {
    this.#presence.connected();
    this.#sender.flush();
    this.#receipts.flush();
    try {
      await this.#conversations.refresh();
    } catch {
      /* offline again, or the server is down: the next connection retries */
    }
    // No frame announces profile changes: refresh the cached profiles once per connection.
    this.#users.refreshCached();
    await this.resync();
  }

  /** @param {ServerEnvelope} frame */
  #onFrame(frame) {
    switch (frame.type) {
      case 'message.new':
        this.#messages.ingest(frame.payload.conversationId, [frame.payload], { live: true });
        break;
      case 'message.ack':
        this.#sender.onAck(frame.payload);
        break;
      case 'message.updated':
        this.#lifecycle.onUpdated(frame.payload.message);
        break;
      case 'message.delivered': {
        const p = frame.payload;
        this.#receipts.onMarker(p.conversationId, p.deliveredTo, 'delivered', p.upToSequence);
        break;
      }
      case 'message.read_receipt': {
        const p = frame.payload;
        this.#receipts.onMarker(p.conversationId, p.readBy, 'read', p.readUpToSequence);
        break;
      }
      case 'typing.update':
        this.#typing.update(frame.payload);
        break;
      case 'presence.bulk':
        for (const p of frame.payload.presences || []) this.#presence.update(p);
        break;
      case 'presence.update':
        this.#presence.update(frame.payload);
        break;
      case 'conversation.updated':
        this.#conversations.upsert(frame.payload, { sync: true });
        break;
      case 'error':
        if (!this.#sender.onError(frame.id, frame.payload)) {
          const error = new ConfabError(frame.payload.error, frame.payload.message);
          this.#emit('error', { error });
        }
        break;
      default:
        break;
    }
  }

  // ---- conversations and users (sdk-conversations.js, sdk-users.js) ----

  /** A conversation's `Timeline` (`hasOlder`, `syncedUpTo`, …). @param {string} conversationId */
  timeline(conversationId) {
    return this.#conversations.timeline(conversationId);
  }

  /** Conversations, most recently active first. */
  conversationList() {
    return this.#conversations.list();
  }

  /** The newest message of a conversation as known here (pending included). @param {string} conversationId */
  lastMessage(conversationId) {
    return this.#conversations.lastMessage(conversationId);
  }

  /** `lastSequence − lastReadSequence`. @param {string} conversationId */
  unreadCount(conversationId) {
    return this.#conversations.unreadCount(conversationId);
  }

  /** The group name, or the other person's in a direct chat. @param {string} conversationId */
  conversationName(conversationId) {
    return this.#conversations.name(conversationId);
  }

  /** The other member of a direct conversation (null for groups). @param {string} conversationId */
  peerId(conversationId) {
    return this.#conversations.peerId(conversationId);
  }

  /** `GET /conversations`, merged with what this device knows. */
  refreshConversations() {
    return this.#conversations.refresh();
  }

  /** `POST /conversations` (direct); resolves to the conversation. @param {string} userId */
  createDirect(userId) {
    return this.#conversations.createDirect(userId);
  }

  /**
   * `POST /groups`; resolves to the conversation.
   * @param {string} name
   * @param {string[]} participantIds
   * @param {Partial<GroupSettings>} [settings]
   */
  createGroup(name, participantIds, settings) {
    return this.#conversations.createGroup(name, participantIds, settings);
  }

  /** `POST /conversations/{id}/members`. @param {string} conversationId @param {string[]} userIds */
  addMembers(conversationId, userIds) {
    return this.#conversations.addMembers(conversationId, userIds);
  }

  /** Leaves a group (`DELETE /conversations/{id}/members/{me}`). @param {string} conversationId */
  leave(conversationId) {
    return this.#conversations.leave(conversationId);
  }

  /**
   * Renames a group and/or changes settings given (admins). @param {string} conversationId
   * @param {{ name?: string, settings?: Partial<GroupSettings> }} changes
   */
  updateGroup(conversationId, changes) {
    return this.#conversations.updateGroup(conversationId, changes);
  }

  /**
   * Makes a member admin or plain member (admins). @param {string} conversationId
   * @param {string} userId @param {import('./types/proto.js').Role} role
   */
  setRole(conversationId, userId, role) {
    return this.#conversations.setRole(conversationId, userId, role);
  }

  /**
   * `POST /reports`: reports someone else's message of a conversation this user is in, with a
   * reason (1–1000 characters). Reporting it again resolves to the first report.
   * @param {string} conversationId
   * @param {string} messageId
   * @param {string} reason
   */
  report(conversationId, messageId, reason) {
    return report((method, path, body) => this.api(method, path, body), { messageId, reason, conversationId });
  }

  /** `GET /users?query=`. @param {string} query @param {number} [limit] */
  searchUsers(query, limit = 20) {
    return this.#users.search(query, limit);
  }

  /** A profile: cached, or fetched (then a `user` event). @param {string} userId */
  user(userId) {
    return this.#users.get(userId);
  }

  /** Display name, or username, or `…` while unknown. @param {string} userId */
  userName(userId) {
    return this.#users.name(userId);
  }

  // ---- messages (sdk-messages.js, sdk-sending.js, sdk-sync.js) ----

  /**
   * Loads what this device has of a conversation (IndexedDB first, then the newest page from the
   * server for fresh statuses). Call when a conversation is opened.
   * @param {string} conversationId
   */
  openConversation(conversationId) {
    return this.#messages.open(conversationId);
  }

  /**
   * Loads older history (IndexedDB first, then `GET messages?before=`). Resolves to the number of
   * messages added; 0 means the beginning was reached (or nothing could be loaded).
   * @param {string} conversationId
   * @param {number} [limit]
   */
  loadOlder(conversationId, limit = 30) {
    return this.#messages.loadOlder(conversationId, limit);
  }

  /** Messages of a conversation in display order. @param {string} conversationId */
  messages(conversationId) {
    return this.timeline(conversationId).list();
  }

  /**
   * Sends a text message: it appears at once with status `pending`, is retried with the same
   * messageId until acknowledged, and turns `failed` after the retry bound (see `retry`).
   * Returns the local message.
   * @param {string} conversationId
   * @param {string} text
   * @param {{ expiresInSeconds?: number }} [options]  see `send`
   */
  sendText(conversationId, text, options = {}) {
    return this.send(conversationId, { type: 'text', text }, options);
  }

  /**
   * Like `sendText`, any content. `options.expiresInSeconds` (1 s to a year) makes it a
   * disappearing message: every device shows it as deleted once that time has passed since the
   * server stored it, and the server erases it.
   * @param {string} conversationId
   * @param {Content} content
   * @param {{ expiresInSeconds?: number }} [options]
   */
  send(conversationId, content, options = {}) {
    this.#typing.stop(conversationId);
    return this.#sender.write(conversationId, content, undefined, options.expiresInSeconds);
  }

  /**
   * Sends a text message that replies to the message `replyTo` (its `messageId`) of the same
   * conversation; like `sendText` otherwise.
   * @param {string} conversationId
   * @param {string} text
   * @param {string} replyTo
   */
  reply(conversationId, text, replyTo) {
    this.#typing.stop(conversationId);
    return this.#sender.write(conversationId, { type: 'text', text }, replyTo);
  }

  /**
   * Edits one of this user's messages (`message.edit`, or `PATCH` when not connected): the new
   * text, or the new caption of an attachment. Resolves to the message as edited.
   * @param {string} conversationId
   * @param {string} messageId
   * @param {string} text
   */
  edit(conversationId, messageId, text) {
    return this.#lifecycle.edit(conversationId, messageId, text);
  }

  /**
   * Deletes a message for everyone (this user's own, or any as a group admin); resolves to the
   * tombstone. `senderId` names whose message when several senders used `messageId` here.
   * @param {string} conversationId
   * @param {string} messageId
   * @param {string} [senderId]
   */
  deleteMessage(conversationId, messageId, senderId) {
    return this.#lifecycle.remove(conversationId, messageId, senderId);
  }

  /**
   * Adds this user's reaction (`reaction.add`); adding one already there changes nothing.
   * @param {string} conversationId
   * @param {string} messageId
   * @param {string} emoji
   * @param {string} [senderId]
   */
  react(conversationId, messageId, emoji, senderId) {
    return this.#lifecycle.react(conversationId, messageId, emoji, true, senderId);
  }

  /**
   * Removes this user's reaction (`reaction.remove`).
   * @param {string} conversationId
   * @param {string} messageId
   * @param {string} emoji
   * @param {string} [senderId]
   */
  unreact(conversationId, messageId, emoji, senderId) {
    return this.#lifecycle.react(conversationId, messageId, emoji, false, senderId);
  }

  // ---- attachments (sdk-attachments.js) ----

  /**
   * `POST /attachments`: uploads a file (a `File`, `Blob`, `ArrayBuffer` or `Uint8Array`);
   * resolves to the stored attachment (`Attachment`), to send with `sendAttachment`. In browsers
   * `onProgress(sent, total)` follows the upload and `signal` aborts it (rejecting with an
   * `AbortError`). Over the server's limit: `ConfabError` `PAYLOAD_TOO_LARGE` (status 413).
   * @param {UploadData} data
   * @param {UploadOptions} [options]
   */
  uploadAttachment(data, options) {
    return this.#attachments.upload(data, options);
  }

  /**
   * `GET /attachments/{id}`: the bytes as a `Blob` (or `range`: bytes `start` to `end`, exclusive).
   * `NOT_FOUND` unless this user uploaded it or is in a conversation holding a message linking it.
   * @param {string} attachmentId
   * @param {{ range?: { start: number, end?: number }, signal?: AbortSignal }} [options]
   */
  downloadAttachment(attachmentId, options) {
    return this.#attachments.download(attachmentId, options);
  }

  /**
   * `GET /attachments/{id}/thumbnail`: a JPEG `Blob` at most 320 px on its longer side (images
   * with `hasThumbnail`).
   * @param {string} attachmentId
   * @param {{ signal?: AbortSignal }} [options]
   */
  attachmentThumbnail(attachmentId, options) {
    return this.#attachments.thumbnail(attachmentId, options);
  }

  /**
   * The attachment behind an object URL (`{url, blob, release}`) for `<img>`, `<video>`,
   * `<audio>` or a download link; call `release()` when it is no longer shown.
   * @param {string} attachmentId
   * @param {{ signal?: AbortSignal }} [options]
   * @returns {Promise<ObjectUrl>}
   */
  attachmentUrl(attachmentId, options) {
    return this.#attachments.url(attachmentId, options);
  }

  /**
   * The thumbnail behind an object URL (`{url, blob, release}`); `release()` it when no longer shown.
   * @param {string} attachmentId
   * @param {{ signal?: AbortSignal }} [options]
   * @returns {Promise<ObjectUrl>}
   */
  thumbnailUrl(attachmentId, options) {
    return this.#attachments.thumbnailUrl(attachmentId, options);
  }

  /**
   * Sends a message linking an upload of this user's: content `{type, attachmentId, text?,
   * metadata}` (`attachmentContent`: the type from the attachment's `contentType`, the upload's
   * answer as `metadata`, `text` as the caption); otherwise like `send` (pending, outbox,
   * retries). `replyTo` makes it a reply, `expiresInSeconds` a disappearing message.
   * @param {string} conversationId
   * @param {Attachment} attachment  what `uploadAttachment` resolved to
   * @param {{ text?: string, replyTo?: string, expiresInSeconds?: number }} [options]
   */
  sendAttachment(conversationId, attachment, { text, replyTo, expiresInSeconds } = {}) {
    this.#typing.stop(conversationId);
    return this.#sender.write(conversationId, attachmentContent(attachment, { text }), replyTo, expiresInSeconds);
  }

  /** Puts a failed message back in the queue. @param {string} messageId */
  retry(messageId) {
    return this.#sender.retry(messageId);
  }

  /** Drops a failed message that will not be sent. @param {string} messageId */
  discard(messageId) {
    return this.#sender.discard(messageId);
  }

  /** Syncs every conversation from its cursor, while the server has more; calls coalesce. */
  resync() {
    return this.#sync.resync();
  }

  // ---- receipts (sdk-receipts.js) ----

  /**
   * `GET /conversations/{id}/messages/{messageId}/receipts`: who has received and read a message.
   * @param {string} conversationId
   * @param {string} messageId
   */
  receipts(conversationId, messageId) {
    return this.#receipts.receipts(conversationId, messageId);
  }

  /**
   * Marks a conversation read up to its newest message (`message.read`), when it is open and
   * visible. Offline, the marker is kept and reported on reconnect.
   * @param {string} conversationId
   */
  markRead(conversationId) {
    this.#receipts.markRead(conversationId);
  }

  // ---- push notifications and muting (sdk-push.js) ----

  /**
   * `GET /push/config` (no session needed): `{webPushPublicKey?, kinds}`, the kinds of push the
   * server delivers and the key a browser subscribes with (`applicationServerKey`).
   * @returns {Promise<import('./types/proto.js').PushConfig>}
   */
  pushConfig() {
    return this.#push.config();
  }

  /**
   * `POST /push/subscriptions`: registers a device for push (`webpush`: `endpoint`, `keys`;
   * `fcm`, `apns`: `token`); `deviceId` defaults to this client's. The device's earlier
   * subscription of that kind is replaced. Bad endpoint or keys: `INVALID_REQUEST`.
   * @param {{ deviceId?: string, kind: PushKind, endpoint?: string, keys?: { p256dh: string, auth: string }, token?: string }} request
   * @returns {Promise<import('./types/proto.js').PushSubscription>}
   */
  subscribePush(request) {
    return this.#push.subscribe(request);
  }

  /**
   * Registers this browser's Web Push subscription (what `pushManager.subscribe` resolved to, or
   * its `toJSON()`) for this client's device.
   * @param {BrowserPushSubscription} subscription
   * @returns {Promise<import('./types/proto.js').PushSubscription>}
   */
  subscribeWebPush(subscription) {
    return this.#push.subscribeWebPush(subscription);
  }

  /**
   * `GET /push/subscriptions`: this user's push subscriptions (every device's).
   * @returns {Promise<import('./types/proto.js').PushSubscription[]>}
   */
  pushSubscriptions() {
    return this.#push.list();
  }

  /** `DELETE /push/subscriptions/{id}` (`NOT_FOUND` unless it is this user's). @param {string} subscriptionId */
  unsubscribePush(subscriptionId) {
    return this.#push.unsubscribe(subscriptionId);
  }

  /**
   * `PUT /conversations/{id}/notifications`: this user's notification setting of a conversation
   * (every device's); the conversation held here follows (`muted`, `mutedUntil`; `conversation`
   * event). A `mutedUntil` already past unmutes; more than a year ahead: `INVALID_REQUEST`.
   * @param {string} conversationId
   * @param {{ muted: boolean, mutedUntil?: number | null }} settings
   */
  setNotifications(conversationId, settings) {
    return this.#push.setNotifications(conversationId, settings);
  }

  /**
   * Mutes a conversation's push notifications until `untilMs` (ms since the epoch), or until
   * unmuted. Use `isMuted(conversation)` to show it: a timed mute ends by itself.
   * @param {string} conversationId
   * @param {number} [untilMs]
   */
  mute(conversationId, untilMs) {
    return this.#push.setNotifications(conversationId, { muted: true, mutedUntil: untilMs });
  }

  /** Unmutes a conversation. @param {string} conversationId */
  unmute(conversationId) {
    return this.#push.setNotifications(conversationId, { muted: false });
  }

  // ---- typing and presence (sdk-presence.js) ----

  /** Call on every keystroke in a composer (`typing.start` at most every 3 s). @param {string} conversationId */
  typingActivity(conversationId) {
    this.#typing.activity(conversationId);
  }

  /** The composer was cleared or the message sent. @param {string} conversationId */
  stopTyping(conversationId) {
    this.#typing.stop(conversationId);
  }

  /** User ids currently typing in a conversation. @param {string} conversationId */
  typingUsers(conversationId) {
    return this.#typing.users(conversationId);
  }

  /** `{status: 'online'|'away'|'offline', lastSeen}` of a user, or undefined. @param {string} userId */
  presenceOf(userId) {
    return this.#presence.of(userId);
  }

  /** `presence.subscribe`: presence updates for these users from now on. @param {string[]} userIds */
  subscribePresence(userIds) {
    return this.#presence.subscribe(userIds);
  }

  /** `presence.set`: `away` while the app is idle or hidden, `online` again after. @param {boolean} away */
  setAway(away) {
    this.#presence.setAway(away);
  }
}
