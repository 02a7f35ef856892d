// A WebSocket stand-in for the SDK's unit tests: records what the client sends and lets a test act
// as the server (deliver a frame, drop the connection with a close code). Install it with
// `globalThis.WebSocket = FakeWebSocket` and reset `FakeWebSocket.all` before each test.
export class FakeWebSocket {
  /** @type {FakeWebSocket[]} every socket opened, oldest first */
  static all = [];
  /** @type {FakeWebSocket | null} the socket opened last */
  static last = null;

  /** @param {string} url */
  constructor(url) {
    this.url = url;
    this.readyState = 1;
    /** @type {any[]} parsed frames sent by the client */
    this.sent = [];
    /** @type {number | null | undefined} the code the client closed with */
    this.closedWith = null;
    /** @type {((event: { data: string }) => void) | null} */
    this.onmessage = null;
    /** @type {((event: { code: number }) => void) | null} */
    this.onclose = null;
    FakeWebSocket.all.push(this);
    FakeWebSocket.last = this;
  }

  /** @param {string} text */
  send(text) {
    this.sent.push(JSON.parse(text));
  }

  /** @param {number} [code] */
  close(code) {
    this.closedWith = code;
    this.readyState = 3;
  }

  /** The server sends `frame`. */
  receive(frame) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  /** The connection drops with `code`. */
  drop(code) {
    this.readyState = 3;
    this.onclose?.({ code });
  }

  /** The frames of one type sent so far. */
  frames(type) {
    return this.sent.filter((f) => f.type === type);
  }
}
