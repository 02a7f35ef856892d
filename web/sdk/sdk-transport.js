// The wire: REST calls (`rest`), one WebSocket connection (`Socket`: frames, request/reply matching,
// heartbeats and liveness) and the reconnect backoff. Reconnecting, and what a connection is used
// for, are the client's business (sdk-client.js).

/** @typedef {import('./types/proto.js').ClientFrame} ClientFrame */
/** @typedef {import('./types/proto.js').ServerEnvelope} ServerEnvelope */
/** @typedef {import('./types/proto.js').ErrorBody} ErrorBody */

/**
 * The payload type of each client frame type: `ClientPayloads['message.read']` is `UpToPayload`.
 * @typedef {{ [T in ClientFrame['type']]: Extract<ClientFrame, { type: T }>['payload'] }} ClientPayloads
 */

/** An error answered by the server (`code` is the protocol's error code) or the network. */
export class ConfabError extends Error {
  /**
   * @param {string} code  a protocol error code (`RATE_LIMITED`, …) or one of the SDK's own:
   *   `NETWORK` (server unreachable), `OFFLINE` (no connection), `TIMEOUT`, `HTTP_<status>`
   * @param {string} [message]
   * @param {{ status?: number, retryAfter?: number | null, ban?: import('./types/proto.js').BanNotice | null }} [options]
   *   `status`: the HTTP status (0 for WebSocket errors and the network); `retryAfter`: seconds,
   *   when rate limited; `ban`: why and until when, for `BANNED` (a suspended account)
   */
  constructor(code, message, { status = 0, retryAfter, ban } = {}) {
    super(message || code);
    this.name = 'ConfabError';
    this.code = code;
    this.status = status;
    this.retryAfter = retryAfter ?? undefined;
    this.ban = ban ?? undefined;
  }
}

/**
 * Delay before reconnect attempt `attempt` (0-based): exponential with full jitter, bounded.
 * @param {number} attempt
 * @param {{ base?: number, max?: number }} [options]
 * @param {() => number} [random]
 */
export function backoffDelay(attempt, { base = 500, max = 15000 } = {}, random = Math.random) {
  const ceiling = Math.min(max, base * 2 ** Math.min(attempt, 30));
  // Full jitter, but never less than a quarter of the base so a flapping network is not hammered.
  return Math.round(base / 4 + random() * Math.max(0, ceiling - base / 4));
}

/**
 * A REST call under `/api/v1`. Resolves to the parsed JSON body (null for 204); rejects with a
 * `ConfabError` carrying the error body's code.
 * @param {string} baseUrl
 * @param {string} method
 * @param {string} path
 * @param {{ token?: string, body?: unknown }} [options]
 * @returns {Promise<any>}
 */
export async function rest(baseUrl, method, path, { token, body } = {}) {
  /** @type {Record<string, string>} */
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
  } catch {
    throw new ConfabError('NETWORK', 'The server cannot be reached.', { status: 0 });
  }
  if (response.status === 204) return null;
  /** @type {Partial<ErrorBody> | null} */
  const data = await response.json().catch(() => null);
  if (!response.ok) throw errorFromBody(response.status, data, response.statusText);
  return data;
}

/**
 * The `ConfabError` of a REST answer that is not a success: the error body's code and message
 * (`{error, message, retryAfter?, ban?}`), else `HTTP_<status>` and the status text.
 * @param {number} status
 * @param {Partial<ErrorBody> | null | undefined} data  the parsed body, if it was JSON
 * @param {string} [statusText]
 */
export function errorFromBody(status, data, statusText = '') {
  return new ConfabError(data?.error || 'HTTP_' + status, data?.message || statusText, {
    status,
    retryAfter: data?.retryAfter,
    ban: data?.ban,
  });
}

/** @typedef {{ resolve: (payload: any) => void, reject: (err: Error) => void, timer: ReturnType<typeof setTimeout> }} Pending */

/**
 * One WebSocket connection to `/ws`. Frames that answer a `request` (same `id`) settle its promise;
 * every other frame goes to `onFrame`. `onClose` is called once, when the server or the network
 * closes the connection or the heartbeat finds the server silent, never after `close()`.
 */
export class Socket {
  /**
   * @param {string} url  the `ws:`/`wss:` URL with `token` and `device_id`
   * @param {{ onFrame: (frame: ServerEnvelope) => void, onClose: (code: number) => void }} handlers
   */
  constructor(url, { onFrame, onClose }) {
    this.onFrame = onFrame;
    this.onClose = onClose;
    /** @type {Map<string, Pending>} */
    this.requests = new Map();
    this.nextRequestId = 1;
    this.closed = false;
    this.lastFrameAt = Date.now();
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.heartbeat = undefined;
    this.ws = new WebSocket(url);
    this.ws.onmessage = (event) => {
      if (this.closed) return;
      /** @type {ServerEnvelope} */
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      // Every frame the server sends has a type and a payload (crates/proto `ServerEnvelope`).
      if (typeof frame?.type !== 'string' || typeof frame.payload !== 'object' || frame.payload === null) return;
      this.lastFrameAt = Date.now();
      this.#onFrame(frame);
    };
    this.ws.onclose = (event) => {
      if (this.closed) return;
      this.#shutdown();
      this.onClose(event.code);
    };
    this.ws.onerror = () => {};
  }

  /** True while frames can be sent. */
  get open() {
    return !this.closed && this.ws.readyState === 1;
  }

  /**
   * Sends a frame; false when the socket is not open.
   * @template {keyof ClientPayloads} T
   * @param {T} type
   * @param {ClientPayloads[T]} payload
   * @param {string} [id]
   */
  send(type, payload, id) {
    if (!this.open) return false;
    /** @type {{ type: string, payload: unknown, id?: string }} */
    const frame = { type, payload };
    if (id !== undefined) frame.id = String(id);
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /**
   * A frame expecting a reply (matched by request id); rejects on an error frame, on timeout and
   * when the connection closes first.
   * @template {keyof ClientPayloads} T
   * @param {T} type
   * @param {ClientPayloads[T]} payload
   * @param {number} [timeoutMs]
   * @returns {Promise<any>}
   */
  request(type, payload, timeoutMs = 15000) {
    const id = 'r' + this.nextRequestId++;
    return new Promise((resolve, reject) => {
      if (!this.send(type, payload, id)) {
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

  /**
   * Sends `heartbeat` every `interval` ms. The server closes connections silent for 3 intervals;
   * a server silent for 2 (plus slack) is presumed gone: the socket closes with code 4000 and
   * `onClose(4000)` is called.
   * @param {number} interval
   */
  startHeartbeat(interval) {
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      if (Date.now() - this.lastFrameAt > interval * 2 + 5000) {
        this.close(4000);
        this.onClose(4000);
        return;
      }
      this.send('heartbeat', { timestamp: Date.now() });
    }, interval);
  }

  /**
   * Closes the connection from this side; pending requests reject with `OFFLINE`. `onClose` is
   * not called.
   * @param {number} [code]
   */
  close(code = 1000) {
    if (this.closed) return;
    this.#shutdown();
    this.ws.close(code);
  }

  #shutdown() {
    this.closed = true;
    clearInterval(this.heartbeat);
    for (const { reject, timer } of this.requests.values()) {
      clearTimeout(timer);
      reject(new ConfabError('OFFLINE', 'connection closed'));
    }
    this.requests.clear();
  }

  /** @param {ServerEnvelope} frame */
  #onFrame(frame) {
    const pending = frame.id !== undefined && frame.type !== 'message.ack' ? this.requests.get(frame.id) : undefined;
    if (pending && frame.id !== undefined) {
      this.requests.delete(frame.id);
      clearTimeout(pending.timer);
      if (frame.type === 'error') {
        const p = frame.payload;
        pending.reject(new ConfabError(p.error, p.message, { retryAfter: p.retryAfter }));
      } else {
        pending.resolve(frame.payload || {});
      }
      return;
    }
    this.onFrame(frame);
  }
}
