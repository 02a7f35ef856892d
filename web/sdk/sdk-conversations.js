// The conversations this user is a member of and their timelines: the list as the server sends it
// merged with what this device knows (`local`: sync cursor, receipt markers, reported markers),
// kept in local storage; creating, joining and leaving (REST); managing groups (rename, settings,
// roles); names and the list's order; this user's mute of each (set through sdk-push.js).

import { Timeline } from './sdk-timeline.js';
import { ConfabError } from './sdk-transport.js';

/** @typedef {import('./types/proto.js').Conversation} Conversation */
/** @typedef {import('./types/proto.js').GroupSettings} GroupSettings */
/** @typedef {import('./types/proto.js').Message} Message */
/** @typedef {import('./sdk-timeline.js').LocalMessage} LocalMessage */
/** @typedef {import('./sdk-status.js').Marker} Marker */
/** @typedef {import('./sdk-storage.js').Store} Store */
/** @typedef {import('./sdk-events.js').Emit} Emit */
/** @typedef {import('./sdk-users.js').Users} Users */

/**
 * What this device keeps about a conversation beside the server's view of it.
 * `updatesUpTo`: the update cursor (every edit, delete and reaction up to it is applied here).
 * @typedef {{
 *   syncedUpTo: number,
 *   updatesUpTo?: number,
 *   markers: Record<string, Marker>,
 *   receivedReported: number,
 *   readReported: number,
 * }} LocalState
 */

/**
 * A conversation as the client holds it: the server's object plus `local`.
 * @typedef {Conversation & { local: LocalState }} LocalConversation
 */

/** Messages a device fetches of a conversation it has no history of. */
export const WINDOW = 50;

export class Conversations {
  /**
   * @param {object} deps
   * @param {string} deps.userId  this user
   * @param {(method: string, path: string, body?: unknown) => Promise<any>} deps.api  authenticated REST call
   * @param {Store} deps.store
   * @param {Users} deps.users  profiles of the members are fetched as conversations arrive
   * @param {Emit} deps.emit
   * @param {(c: LocalConversation, options: { sync: boolean }) => void} deps.onAdded  a conversation
   *   new to this device arrived (`sync`: from a live update, so its messages must be fetched)
   */
  constructor({ userId, api, store, users, emit, onAdded }) {
    this.userId = userId;
    this.api = api;
    this.store = store;
    this.users = users;
    this.emit = emit;
    this.onAdded = onAdded;
    /** @type {Map<string, LocalConversation>} */
    this.conversations = new Map();
    /** @type {Map<string, Timeline>} */
    this.timelines = new Map();
  }

  /**
   * Takes in the conversations kept in local storage (no events).
   * @param {LocalConversation[]} list
   */
  load(list) {
    for (const c of list) {
      this.conversations.set(c.conversationId, c);
      const local = c.local || {};
      this.timelines.set(
        c.conversationId,
        new Timeline({ syncedUpTo: local.syncedUpTo || 0, updatesUpTo: local.updatesUpTo || 0 }),
      );
    }
  }

  /**
   * A conversation's timeline (created empty on first use).
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
  list() {
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

  /**
   * Name to show for a conversation: the group name, or the other person in a direct chat.
   * @param {string} conversationId
   */
  name(conversationId) {
    const c = this.conversations.get(conversationId);
    if (!c) return '';
    if (c.type === 'group') return c.name || 'Group';
    const other = this.peerId(conversationId);
    return other ? this.users.name(other) : 'Just you';
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

  /** `GET /conversations`, merged with what this device knows. */
  async refresh() {
    const { conversations } = await this.api('GET', '/conversations');
    const seen = new Set();
    for (const c of conversations) {
      seen.add(c.conversationId);
      this.upsert(c, { quiet: true });
    }
    for (const id of [...this.conversations.keys()]) {
      if (!seen.has(id)) this.drop(id);
    }
    this.emit('conversations', {});
  }

  /**
   * Takes in the server's view of a conversation (dropping it when this user is no longer a member).
   * @param {Conversation} c
   * @param {{ quiet?: boolean, sync?: boolean }} [options]  `quiet`: no `conversations` event
   *   (the caller fires one); `sync`: a live update, fetch the messages of a new conversation
   */
  upsert(c, { quiet = false, sync = false } = {}) {
    if (!c.participants.some((p) => p.userId === this.userId)) {
      this.drop(c.conversationId);
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
      // Whatever it fetches from now on comes in its current state: only later changes matter.
      t.updates.jump(c.lastUpdateSequence || 0);
      local.updatesUpTo = t.updates.upTo;
    }
    this.persist(c.conversationId);
    for (const p of c.participants) this.users.get(p.userId);
    if (!quiet) this.emit('conversations', {});
    this.emit('conversation', { conversation: merged, isNew });
    if (isNew) this.onAdded(merged, { sync });
  }

  /**
   * Takes in this user's new notification setting of a conversation (the server's answer to
   * `PUT …/notifications`): `muted`, and `mutedUntil` (absent: until unmuted); stored, then
   * `conversation` and `conversations` events. Nothing happens for a conversation not held here.
   * @param {string} conversationId
   * @param {import('./types/proto.js').NotificationSettings} settings
   */
  setMuted(conversationId, { muted, mutedUntil }) {
    const c = this.conversations.get(conversationId);
    if (!c) return;
    c.muted = muted;
    if (muted && mutedUntil != null) c.mutedUntil = mutedUntil;
    else delete c.mutedUntil;
    this.persist(conversationId);
    this.emit('conversations', {});
    this.emit('conversation', { conversation: c, isNew: false });
  }

  /**
   * Forgets a conversation (left, or no longer a member) and its local history.
   * @param {string} id
   */
  drop(id) {
    if (!this.conversations.has(id)) return;
    this.conversations.delete(id);
    this.timelines.delete(id);
    this.store.deleteConversation(id).catch(() => {});
    this.emit('conversations', {});
    this.emit('conversation.removed', { conversationId: id });
  }

  /**
   * Writes a conversation (with its timeline's cursor) to local storage.
   * @param {string} id
   */
  persist(id) {
    const c = this.conversations.get(id);
    if (!c) return;
    const t = this.timelines.get(id);
    if (t) {
      c.local.syncedUpTo = t.syncedUpTo;
      c.local.updatesUpTo = t.updates.upTo;
    }
    this.store.putConversation(c).catch(() => {});
  }

  /**
   * `POST /conversations` (direct); returns the conversation.
   * @param {string} userId
   * @returns {Promise<LocalConversation>}
   */
  async createDirect(userId) {
    return this.#took(await this.api('POST', '/conversations', { type: 'direct', participantIds: [userId] }));
  }

  /**
   * `POST /groups`; returns the conversation.
   * @param {string} name
   * @param {string[]} participantIds
   * @param {Partial<GroupSettings>} [settings]
   * @returns {Promise<LocalConversation>}
   */
  async createGroup(name, participantIds, settings) {
    return this.#took(await this.api('POST', '/groups', { name, participantIds, settings }));
  }

  /**
   * `POST /conversations/{id}/members`.
   * @param {string} conversationId
   * @param {string[]} userIds
   * @returns {Promise<LocalConversation>}
   */
  async addMembers(conversationId, userIds) {
    const path = `/conversations/${encodeURIComponent(conversationId)}/members`;
    return this.#took(await this.api('POST', path, { userIds }));
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
    this.drop(conversationId);
  }

  /**
   * `PATCH /conversations/{id}` (group admins): renames the group and/or changes the settings
   * given (the others keep their values). Every member hears of it as `conversation.updated`.
   * @param {string} conversationId
   * @param {{ name?: string, settings?: Partial<GroupSettings> }} changes
   * @returns {Promise<LocalConversation>}
   */
  async updateGroup(conversationId, { name, settings }) {
    /** @type {import('./types/proto.js').UpdateConversationRequest} */
    const body = {};
    if (name !== undefined) body.name = name;
    if (settings !== undefined) body.settings = settings;
    return this.#took(await this.api('PATCH', `/conversations/${encodeURIComponent(conversationId)}`, body));
  }

  /**
   * `PUT /conversations/{id}/members/{userId}/role` (group admins; the last admin cannot step down).
   * @param {string} conversationId
   * @param {string} userId
   * @param {import('./types/proto.js').Role} role
   * @returns {Promise<LocalConversation>}
   */
  async setRole(conversationId, userId, role) {
    const path = `/conversations/${encodeURIComponent(conversationId)}/members/${encodeURIComponent(userId)}/role`;
    return this.#took(await this.api('PUT', path, { role }));
  }

  /**
   * Takes in a conversation the server answered with and returns it as held here; it is missing
   * only when this user is not a member (then the server would have refused).
   * @param {Conversation} c
   */
  #took(c) {
    this.upsert(c);
    const held = this.conversations.get(c.conversationId);
    if (!held) throw new ConfabError('CONVERSATION_NOT_FOUND', 'not a member of this conversation');
    return held;
  }
}
