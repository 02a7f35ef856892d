// User profiles: the directory search and a cache of the profiles seen (kept in local storage),
// fetched on first use; a `user` event fires when a profile arrives or changes.

/** @typedef {import('./types/proto.js').User} User */
/** @typedef {import('./sdk-storage.js').Store} Store */
/** @typedef {import('./sdk-events.js').Emit} Emit */

/**
 * The user id of the system account: the sender of notices an application publishes through the
 * server API. It belongs to no conversation and has no profile to fetch.
 */
export const SYSTEM_USER_ID = 'system';

/**
 * Whether a message is a notice from the system account (shown as a notice, not a person's
 * message: no sender name, no report).
 * @param {{senderId: string}} message
 */
export function isSystemMessage(message) {
  return message.senderId === SYSTEM_USER_ID;
}

export class Users {
  /**
   * @param {object} deps
   * @param {(method: string, path: string) => Promise<any>} deps.api  authenticated REST call
   * @param {Store} deps.store
   * @param {Emit} deps.emit
   */
  constructor({ api, store, emit }) {
    this.api = api;
    this.store = store;
    this.emit = emit;
    /** @type {Map<string, User>} */
    this.users = new Map();
    /** @type {Map<string, Promise<unknown>>} profiles being fetched */
    this.fetches = new Map();
  }

  /**
   * Takes in the profiles kept in local storage (no events).
   * @param {User[]} users
   */
  load(users) {
    for (const u of users) this.users.set(u.userId, u);
  }

  /**
   * A user's profile: cached, or fetched (a `user` event fires when it arrives).
   * @param {string} userId
   * @returns {User | null}
   */
  get(userId) {
    const u = this.users.get(userId);
    if (u) return u;
    if (!this.fetches.has(userId)) {
      const p = this.api('GET', `/users/${encodeURIComponent(userId)}`)
        .then((u) => this.remember(u))
        .catch(() => {})
        .finally(() => this.fetches.delete(userId));
      this.fetches.set(userId, p);
    }
    return null;
  }

  /**
   * Display name of a user (or the username, or `…` while unknown).
   * @param {string} userId
   */
  name(userId) {
    if (userId === SYSTEM_USER_ID) return 'System';
    const u = this.get(userId);
    return u ? u.displayName || u.username : '…';
  }

  /**
   * Fetches again the cached profiles (at most `max` of them, in the background): profile changes
   * (`PATCH /users/me`) are announced by no frame, so each connection picks them up. A `user`
   * event fires for each one that changed.
   * @param {number} [max]
   */
  refreshCached(max = 100) {
    for (const userId of [...this.users.keys()].slice(0, max)) {
      if (this.fetches.has(userId)) continue;
      const p = this.api('GET', `/users/${encodeURIComponent(userId)}`)
        .then((u) => this.remember(u))
        .catch(() => {})
        .finally(() => this.fetches.delete(userId));
      this.fetches.set(userId, p);
    }
  }

  /**
   * `GET /users?query=`.
   * @param {string} query
   * @param {number} limit
   * @returns {Promise<User[]>}
   */
  async search(query, limit) {
    const { users } = await this.api('GET', `/users?query=${encodeURIComponent(query)}&limit=${limit}`);
    for (const u of users) this.remember(u);
    return users;
  }

  /**
   * @param {User} u
   */
  remember(u) {
    const old = this.users.get(u.userId);
    this.users.set(u.userId, u);
    if (!old || old.displayName !== u.displayName || old.username !== u.username) {
      this.store.putUser(u).catch(() => {});
      this.emit('user', { user: u });
    }
    return u;
  }
}
