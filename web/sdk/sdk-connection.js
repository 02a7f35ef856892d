// The connection lifecycle: one WebSocket at a time (a `Socket`) and its state (`idle` →
// `connecting` → `online`; `reconnecting` after a drop, `offline` while the browser is, `closed`
// after `stop()`). It reconnects with backoff after a drop, follows the browser's `online` and
// `offline` events, and says when reconnecting keeps failing (the client then checks the token).
// A close with code 4003 (the session was revoked) or 4004 (the user was banned) stops it: no
// reconnect, `onRevoked` is called with the code.
// The client learns of the connection coming up (`connected`), of every other frame and of the
// connection going away.

import { ConfabError, Socket, backoffDelay } from './sdk-transport.js';

/** @typedef {import('./types/proto.js').ConnectedPayload} ConnectedPayload */
/** @typedef {import('./types/proto.js').ServerEnvelope} ServerEnvelope */
/** @typedef {import('./sdk-transport.js').ClientPayloads} ClientPayloads */
/** @typedef {import('./sdk-events.js').ConnectionState} ConnectionState */
/** @typedef {import('./sdk-events.js').ClientEvents} ClientEvents */

/** Failed attempts in a row after which `onFailing` is called (the client checks its token). */
export const FAILING_AFTER = 3;

/** The close code of a connection whose session was revoked (logout, logout-all, password change). */
export const REVOKED = 4003;
/** The close code of a banned user's connections. */
export const BANNED = 4004;

export class Connection {
  /**
   * @param {object} options
   * @param {() => string} options.url  the `ws:`/`wss:` URL to connect to (with token and device id)
   * @param {{ base?: number, max?: number }} [options.backoff]  reconnect delays (see `backoffDelay`)
   * @param {(detail: ClientEvents['connection']) => void} options.onState  the state changed
   * @param {(payload: ConnectedPayload) => void} options.onConnected  `connected`: the connection is usable
   * @param {(frame: ServerEnvelope) => void} options.onFrame  every other frame not answering a request
   * @param {() => void} options.onDown  the connection went away (not called after `stop()`)
   * @param {() => void} options.onFailing  reconnecting failed `FAILING_AFTER` times or more in a row
   * @param {(code: number) => void} [options.onRevoked]  the server closed the connection with 4003
   *   (this session's token was revoked) or 4004 (the user was banned): the connection is stopped
   *   (state `closed`), no reconnect
   * @param {EventTarget | null} [options.network]  where `online`/`offline` fire (default: the window)
   * @param {() => boolean} [options.browserOffline]  whether the browser knows it is offline
   */
  constructor({ url, backoff = {}, onState, onConnected, onFrame, onDown, onFailing, onRevoked, network, browserOffline }) {
    this.url = url;
    this.backoff = backoff;
    this.handlers = { onState, onConnected, onFrame, onDown, onFailing, onRevoked };
    this.network = network !== undefined ? network : typeof globalThis.addEventListener === 'function' ? globalThis : null;
    this.browserOffline = browserOffline || (() => globalThis.navigator?.onLine === false);
    /** @type {ConnectionState} */
    this.state = 'idle';
    /** @type {Socket | null} the current connection */
    this.socket = null;
    /** failed attempts since the last successful connection */
    this.attempt = 0;
    this.stopped = true;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.reconnectTimer = undefined;
    /** @type {ConnectedPayload | undefined} the last `connected` frame */
    this.connected = undefined;
    /** server clock minus this one's, as of the last `connected` frame (ms) */
    this.serverTimeOffset = 0;
    this.onOnline = () => this.#onNetworkOnline();
    this.onOffline = () => this.#onNetworkOffline();
  }

  /** True while the connection is `online` (frames can be sent). */
  get online() {
    return this.state === 'online' && this.socket !== null;
  }

  /** Starts connecting and follows the browser's network events until `stop()`. */
  start() {
    this.stopped = false;
    this.network?.addEventListener('online', this.onOnline);
    this.network?.addEventListener('offline', this.onOffline);
    this.connect();
  }

  /** Closes the connection and stops reconnecting; the state becomes `closed`. */
  stop() {
    this.stopped = true;
    this.network?.removeEventListener('online', this.onOnline);
    this.network?.removeEventListener('offline', this.onOffline);
    clearTimeout(this.reconnectTimer);
    if (this.socket) {
      const socket = this.socket;
      this.socket = null;
      socket.close(1000);
    }
    this.#setState('closed');
  }

  /** Opens the connection unless one is open (or it is stopped or the browser offline). */
  connect() {
    if (this.stopped || this.socket) return;
    clearTimeout(this.reconnectTimer);
    if (this.browserOffline()) {
      this.#setState('offline');
      return;
    }
    this.#setState(this.attempt === 0 && this.state !== 'reconnecting' ? 'connecting' : 'reconnecting', {
      attempt: this.attempt,
    });
    const socket = new Socket(this.url(), {
      onFrame: (frame) => {
        if (this.socket === socket) this.#onFrame(socket, frame);
      },
      onClose: (code) => {
        if (this.socket === socket) this.#onClosed(code);
      },
    });
    this.socket = socket;
  }

  /** Reconnects now instead of waiting for the backoff timer (e.g. a "retry now" button). */
  reconnectNow() {
    this.attempt = 0;
    if (!this.socket && !this.stopped) this.connect();
  }

  /**
   * Sends a frame once the connection is `online`; false when it cannot be sent.
   * @template {keyof ClientPayloads} T
   * @param {T} type
   * @param {ClientPayloads[T]} payload
   * @param {string} [id]
   */
  send(type, payload, id) {
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
  request(type, payload) {
    if (!this.socket || this.state !== 'online') return Promise.reject(new ConfabError('OFFLINE', 'not connected'));
    return this.socket.request(type, payload);
  }

  /**
   * @param {ConnectionState} state
   * @param {Omit<ClientEvents['connection'], 'state'>} [extra]
   */
  #setState(state, extra = {}) {
    if (this.state === state) return;
    this.state = state;
    this.handlers.onState({ state, ...extra });
  }

  /**
   * @param {Socket} socket
   * @param {ServerEnvelope} frame
   */
  #onFrame(socket, frame) {
    if (frame.type !== 'connected') {
      this.handlers.onFrame(frame);
      return;
    }
    const payload = frame.payload;
    this.attempt = 0;
    this.connected = payload;
    this.serverTimeOffset = payload.serverTime - Date.now();
    this.#setState('online', { connectionId: payload.connectionId });
    socket.startHeartbeat(payload.heartbeatInterval || 30000);
    this.handlers.onConnected(payload);
  }

  /**
   * The connection is gone (closed by the server or the network, presumed dead, or closed here
   * because the browser went offline): reconnect after a backoff delay unless stopped or offline.
   * @param {number} code
   */
  #onClosed(code) {
    this.socket = null;
    this.handlers.onDown();
    if (this.stopped) return;
    if (code === REVOKED || code === BANNED) {
      // Reconnecting with a revoked token, or as a banned user, can only fail: stop, and let the
      // client sign out.
      this.stop();
      this.handlers.onRevoked?.(code);
      return;
    }
    if (this.browserOffline()) {
      this.#setState('offline');
      return;
    }
    const delay = backoffDelay(this.attempt, this.backoff);
    this.attempt += 1;
    this.#setState('reconnecting', { attempt: this.attempt, delay, code });
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
    if (this.attempt >= FAILING_AFTER) this.handlers.onFailing();
  }

  #onNetworkOffline() {
    if (this.stopped) return;
    clearTimeout(this.reconnectTimer);
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
}
