// Local storage of history, conversations, users and the unsent queue: IndexedDB in browsers,
// memory elsewhere. Both classes have the same async interface (`Store`).

import { messageKey } from './sdk-timeline.js';

/** @typedef {import('./types/proto.js').User} User */
/** @typedef {import('./sdk-timeline.js').LocalMessage} LocalMessage */
/** @typedef {import('./sdk-conversations.js').LocalConversation} LocalConversation */

/**
 * What the client needs from local storage. Messages are kept by (`senderId`, `messageId`): two
 * members' messages may share a `messageId`. The outbox holds one's own messages only, kept by
 * `messageId`. `getMessages` answers in ascending sequence order.
 * @typedef {{
 *   open(): Promise<void>,
 *   close(): Promise<void>,
 *   destroy(): Promise<void>,
 *   getConversations(): Promise<LocalConversation[]>,
 *   putConversation(c: LocalConversation): Promise<void>,
 *   deleteConversation(id: string): Promise<void>,
 *   putMessages(list: LocalMessage[]): Promise<void>,
 *   getMessages(conversationId: string, beforeSeq: number, limit: number): Promise<LocalMessage[]>,
 *   getOutbox(): Promise<LocalMessage[]>,
 *   putOutbox(m: LocalMessage): Promise<void>,
 *   deleteOutbox(id: string): Promise<void>,
 *   getUsers(): Promise<User[]>,
 *   putUser(u: User): Promise<void>,
 * }} Store
 */

/**
 * Local storage that forgets everything when the page goes away (tests, private mode).
 * @implements {Store}
 */
export class MemoryStore {
  constructor() {
    /** @type {Map<string, LocalConversation>} */
    this.conversations = new Map();
    /** @type {Map<string, LocalMessage>} messageKey(senderId, messageId) -> message */
    this.messages = new Map();
    /** @type {Map<string, LocalMessage>} messageId -> one's own unsent message */
    this.outbox = new Map();
    /** @type {Map<string, User>} */
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
  /** @param {LocalConversation} c */
  async putConversation(c) {
    this.conversations.set(c.conversationId, structuredClone(c));
  }
  /** @param {string} id */
  async deleteConversation(id) {
    this.conversations.delete(id);
    for (const [k, m] of this.messages) if (m.conversationId === id) this.messages.delete(k);
  }
  /** @param {LocalMessage[]} list */
  async putMessages(list) {
    for (const m of list) this.messages.set(messageKey(m.senderId, m.messageId), structuredClone(m));
  }
  /**
   * Up to `limit` messages of a conversation with sequence below `beforeSeq`, ascending.
   * @param {string} conversationId
   * @param {number} beforeSeq
   * @param {number} limit
   */
  async getMessages(conversationId, beforeSeq, limit) {
    // Only confirmed messages are stored here (pending ones live in the outbox).
    const seq = (/** @type {LocalMessage} */ m) => m.sequenceNumber ?? 0;
    return [...this.messages.values()]
      .filter((m) => m.conversationId === conversationId && seq(m) < beforeSeq)
      .sort((a, b) => seq(b) - seq(a))
      .slice(0, limit)
      .reverse();
  }
  async getOutbox() {
    return [...this.outbox.values()].sort((a, b) => (a.localTime ?? 0) - (b.localTime ?? 0));
  }
  /** @param {LocalMessage} m */
  async putOutbox(m) {
    this.outbox.set(m.messageId, structuredClone(m));
  }
  /** @param {string} id */
  async deleteOutbox(id) {
    this.outbox.delete(id);
  }
  async getUsers() {
    return [...this.users.values()];
  }
  /** @param {User} u */
  async putUser(u) {
    this.users.set(u.userId, structuredClone(u));
  }
}

/**
 * @template T
 * @param {IDBRequest<T>} request
 * @returns {Promise<T>}
 */
function promisify(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/**
 * The IndexedDB schema version. 1 kept messages by `messageId`; 2 keeps them by
 * [`senderId`, `messageId`] (upgrading copies version 1's messages over).
 */
export const IDB_VERSION = 2;

/**
 * IndexedDB storage, one database per user: history opens instantly and offline.
 * @implements {Store}
 */
export class IndexedDBStore {
  /** @param {string} name  the database name (the client uses `confab-<userId>`) */
  constructor(name) {
    this.name = name;
    /** @type {IDBDatabase | null} */
    this.db = null;
  }

  async open() {
    const request = indexedDB.open(this.name, IDB_VERSION);
    request.onupgradeneeded = (event) => {
      const db = request.result;
      const tx = /** @type {IDBTransaction} */ (request.transaction);
      if (event.oldVersion < 1) {
        db.createObjectStore('conversations', { keyPath: 'conversationId' });
        db.createObjectStore('outbox', { keyPath: 'messageId' });
        db.createObjectStore('users', { keyPath: 'userId' });
      }
      if (event.oldVersion < 2) {
        // Messages are kept by [senderId, messageId]. A key path cannot change, so version 1's
        // store (by messageId) is renamed, copied into the new one and dropped, all within the
        // upgrade: it commits whole or not at all.
        const old = event.oldVersion >= 1 ? tx.objectStore('messages') : null;
        if (old) old.name = 'messages-v1';
        const messages = db.createObjectStore('messages', { keyPath: ['senderId', 'messageId'] });
        messages.createIndex('bySeq', ['conversationId', 'sequenceNumber']);
        if (old) {
          const cursorReq = old.openCursor();
          cursorReq.onsuccess = () => {
            const cursor = cursorReq.result;
            if (!cursor) {
              db.deleteObjectStore('messages-v1');
              return;
            }
            const m = cursor.value;
            // Only a well-formed record is kept (it is a cache: the server has every message).
            if (m && typeof m.senderId === 'string' && typeof m.messageId === 'string') messages.put(m);
            cursor.continue();
          };
        }
      }
    };
    const db = await promisify(request);
    db.onversionchange = () => db.close();
    this.db = db;
  }

  async close() {
    this.db?.close();
    this.db = null;
  }

  async destroy() {
    await this.close();
    await promisify(indexedDB.deleteDatabase(this.name)).catch(() => {});
  }

  /**
   * @param {string | string[]} stores
   * @param {IDBTransactionMode} [mode]
   */
  #tx(stores, mode = 'readonly') {
    if (!this.db) throw new Error(`IndexedDBStore ${this.name} is not open`);
    return this.db.transaction(stores, mode);
  }

  /**
   * Resolves when the transaction commits.
   * @param {IDBTransaction} tx
   * @returns {Promise<void>}
   */
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

  /** @param {LocalConversation} c */
  async putConversation(c) {
    const tx = this.#tx('conversations', 'readwrite');
    tx.objectStore('conversations').put(c);
    return this.#done(tx);
  }

  /** @param {string} id */
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

  /** @param {LocalMessage[]} list */
  async putMessages(list) {
    if (!list.length) return;
    const tx = this.#tx('messages', 'readwrite');
    const store = tx.objectStore('messages');
    for (const m of list) store.put(m);
    return this.#done(tx);
  }

  /**
   * @param {string} conversationId
   * @param {number} beforeSeq
   * @param {number} limit
   * @returns {Promise<LocalMessage[]>}
   */
  async getMessages(conversationId, beforeSeq, limit) {
    const range = IDBKeyRange.bound([conversationId, 0], [conversationId, beforeSeq], false, true);
    const index = this.#tx('messages').objectStore('messages').index('bySeq');
    return new Promise((resolve, reject) => {
      /** @type {LocalMessage[]} */
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
    return all.sort((a, b) => (a.localTime ?? 0) - (b.localTime ?? 0));
  }

  /** @param {LocalMessage} m */
  async putOutbox(m) {
    const tx = this.#tx('outbox', 'readwrite');
    tx.objectStore('outbox').put(m);
    return this.#done(tx);
  }

  /** @param {string} id */
  async deleteOutbox(id) {
    const tx = this.#tx('outbox', 'readwrite');
    tx.objectStore('outbox').delete(id);
    return this.#done(tx);
  }

  async getUsers() {
    return promisify(this.#tx('users').objectStore('users').getAll());
  }

  /** @param {User} u */
  async putUser(u) {
    const tx = this.#tx('users', 'readwrite');
    tx.objectStore('users').put(u);
    return this.#done(tx);
  }
}
