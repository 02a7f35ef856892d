// Blocked users: the list this user blocks (`GET /users/me/blocks`), kept here once loaded, and
// blocking or unblocking someone (`PUT` / `DELETE /users/me/blocks/{userId}`). A `blocks` event
// fires whenever the list changes. While either of two users blocks the other, neither can send
// into their direct conversation (the send fails with `FORBIDDEN` and the server's reason).

/** @typedef {import('./types/proto.js').BlockedUser} BlockedUser */
/** @typedef {import('./sdk-events.js').Emit} Emit */

export class Blocks {
  /**
   * @param {object} deps
   * @param {(method: string, path: string, body?: unknown) => Promise<any>} deps.api  authenticated REST call
   * @param {Emit} deps.emit
   */
  constructor({ api, emit }) {
    this.api = api;
    this.emit = emit;
    /** @type {BlockedUser[] | null} most recent first; null until loaded */
    this.list = null;
  }

  /**
   * `GET /users/me/blocks`: loads the list again; resolves to it (most recent first).
   * @returns {Promise<BlockedUser[]>}
   */
  async refresh() {
    const { blocks } = await this.api('GET', '/users/me/blocks');
    this.#set(blocks);
    return blocks;
  }

  /**
   * Whether this user blocks `userId`, as far as the list loaded says (false until loaded).
   * @param {string | null | undefined} userId
   */
  isBlocked(userId) {
    return !!userId && !!this.list && this.list.some((b) => b.user.userId === userId);
  }

  /**
   * Blocks a user (blocking again changes nothing), then reloads the list.
   * @param {string} userId
   */
  async block(userId) {
    await this.api('PUT', `/users/me/blocks/${encodeURIComponent(userId)}`);
    return this.refresh();
  }

  /**
   * Lifts a block (unblocking someone not blocked changes nothing), then reloads the list.
   * @param {string} userId
   */
  async unblock(userId) {
    await this.api('DELETE', `/users/me/blocks/${encodeURIComponent(userId)}`);
    return this.refresh();
  }

  /** @param {BlockedUser[]} blocks */
  #set(blocks) {
    this.list = blocks;
    this.emit('blocks', { blocks });
  }
}
