// Local storage of history, conversations, users and the unsent queue: IndexedDB in browsers,
// memory elsewhere. Both classes have the same async interface (`Store`).

/** @typedef {import('./types/proto').User} User */
/** @typedef {import('./sdk-timeline.js').LocalMessage} LocalMessage */
/** @typedef {import('./sdk-conversations.js').LocalConversation} LocalConversation */

/**
 * What the client needs from local storage. Messages are kept by `messageId`; `getMessages`
 * answers in ascending sequence order.
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
    /** @type {Map<string, LocalMessage>} */
    this.messages = new Map();
    /** @type {Map<string, LocalMessage>} */
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
    for (const m of list) this.messages.set(m.messageId, structuredClone(m));
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
    const request = indexedDB.open(this.name, 1);
    request.onupgradeneeded = () => {
      const db = request.result;
      db.createObjectStore('conversations', { keyPath: 'conversationId' });
      const messages = db.createObjectStore('messages', { keyPath: 'messageId' });
      messages.createIndex('bySeq', ['conversationId', 'sequenceNumber']);
      db.createObjectStore('outbox', { keyPath: 'messageId' });
      db.createObjectStore('users', { keyPath: 'userId' });
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
