// Unit tests for the connection lifecycle (sdk-connection.js `Connection`) over a fake WebSocket
// and mocked timers: reconnect backoff and its reset, the token check after repeated failures,
// the browser's offline/online events, and stop().
import { test, mock, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Connection, FAILING_AFTER } from '../../sdk/sdk-connection.js';
import { FakeWebSocket } from '../support/fake-websocket.js';


const connected = { type: 'connected', payload: { connectionId: 'c1', userId: 'u', heartbeatInterval: 30000, serverTime: 0 } };

beforeEach(() => {
  FakeWebSocket.all = [];
  globalThis.WebSocket = FakeWebSocket;
  mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  mock.method(Math, 'random', () => 1); // backoff at its ceiling: base · 2^attempt
});

afterEach(() => {
  mock.timers.reset();
  mock.restoreAll();
});

/** A started connection recording what it tells the client. */
function started({ offline = () => false } = {}) {
  const log = { states: [], connected: 0, frames: [], down: 0, failing: 0 };
  const network = new EventTarget();
  const conn = new Connection({
    url: () => 'ws://test/ws?token=t',
    backoff: { base: 100, max: 1000 },
    onState: (d) => log.states.push(d),
    onConnected: () => log.connected++,
    onFrame: (f) => log.frames.push(f.type),
    onDown: () => log.down++,
    onFailing: () => log.failing++,
    network,
    browserOffline: offline,
  });
  conn.start();
  return { conn, log, network, ws: () => FakeWebSocket.all[FakeWebSocket.all.length - 1] };
}

test('a drop reconnects after a growing backoff; `connected` resets it', () => {
  const { conn, log, ws } = started();
  assert.deepEqual(log.states, [{ state: 'connecting', attempt: 0 }]);
  assert.equal(ws().url, 'ws://test/ws?token=t');
  ws().receive(connected);
  assert.equal(conn.state, 'online');
  assert.equal(log.connected, 1);
  ws().receive({ type: 'message.new', payload: {} });
  assert.deepEqual(log.frames, ['message.new']);

  const delays = [];
  for (let i = 0; i < 4; i++) {
    ws().drop(1006);
    const last = log.states[log.states.length - 1];
    if (i === 0) assert.deepEqual(last, { state: 'reconnecting', attempt: 1, delay: 100, code: 1006 });
    delays.push(conn.attempt);
    const sockets = FakeWebSocket.all.length;
    mock.timers.tick(100 * 2 ** i - 1);
    assert.equal(FakeWebSocket.all.length, sockets, `attempt ${i + 1}: not before its delay`);
    mock.timers.tick(1);
    assert.equal(FakeWebSocket.all.length, sockets + 1, `attempt ${i + 1}: reconnects after ${100 * 2 ** i} ms`);
  }
  assert.deepEqual(delays, [1, 2, 3, 4]);
  assert.equal(log.down, 4);
  assert.equal(log.failing, 4 - FAILING_AFTER + 1, 'the token is checked from the third failure on');
  assert.equal(conn.state, 'reconnecting');

  ws().receive(connected);
  assert.equal(conn.attempt, 0);
  assert.equal(log.connected, 2);
  ws().drop(1006);
  const sockets = FakeWebSocket.all.length;
  mock.timers.tick(100);
  assert.equal(FakeWebSocket.all.length, sockets + 1, 'back to the first delay after a successful connection');
});

test('the backoff is bounded by max', () => {
  const { conn, ws } = started();
  for (const delay of [100, 200, 400, 800, 1000, 1000, 1000]) {
    ws().drop(1006);
    const sockets = FakeWebSocket.all.length;
    mock.timers.tick(delay - 1);
    assert.equal(FakeWebSocket.all.length, sockets, `not before ${delay} ms`);
    mock.timers.tick(1);
    assert.equal(FakeWebSocket.all.length, sockets + 1, `reconnects after ${delay} ms`);
  }
  assert.equal(conn.attempt, 7);
});

test('offline closes at once and waits; online reconnects without waiting for the backoff', () => {
  let offline = false;
  const { conn, log, network, ws } = started({ offline: () => offline });
  const first = ws();
  first.receive(connected);
  offline = true;
  network.dispatchEvent(new Event('offline'));
  assert.equal(first.closedWith, 1000);
  assert.equal(conn.state, 'offline');
  assert.equal(log.down, 1);
  mock.timers.tick(60_000);
  assert.equal(FakeWebSocket.all.length, 1, 'no reconnect attempts while offline');
  assert.equal(conn.send('typing.start', { conversationId: 'x' }), false);

  offline = false;
  network.dispatchEvent(new Event('online'));
  assert.equal(FakeWebSocket.all.length, 2, 'reconnects at once');
  assert.equal(conn.state, 'connecting');
});

test('reconnectNow skips the backoff wait', () => {
  const { conn, ws } = started();
  ws().drop(1006);
  assert.equal(FakeWebSocket.all.length, 1);
  conn.reconnectNow();
  assert.equal(FakeWebSocket.all.length, 2);
  assert.equal(conn.attempt, 0);
});

test('stop closes without reconnecting; sends and requests are refused after', async () => {
  const { conn, log, ws } = started();
  const socket = ws();
  socket.receive(connected);
  assert.equal(conn.send('typing.start', { conversationId: 'x' }), true);
  conn.stop();
  assert.equal(socket.closedWith, 1000);
  assert.equal(conn.state, 'closed');
  assert.equal(log.down, 0, 'stopping is not a drop');
  mock.timers.tick(60_000);
  assert.equal(FakeWebSocket.all.length, 1);
  assert.equal(conn.send('typing.start', { conversationId: 'x' }), false);
  await assert.rejects(conn.request('sync', { conversations: [] }), (err) => err.code === 'OFFLINE');
});

test('a close with 4003 (session revoked) stops: no reconnect, onRevoked is called', () => {
  const revoked = [];
  const log = { states: [], down: 0, failing: 0 };
  const conn = new Connection({
    url: () => 'ws://test/ws?token=t',
    backoff: { base: 100, max: 1000 },
    onState: (d) => log.states.push(d),
    onConnected: () => {},
    onFrame: () => {},
    onDown: () => log.down++,
    onFailing: () => log.failing++,
    onRevoked: (code) => revoked.push(code),
    network: new EventTarget(),
    browserOffline: () => false,
  });
  conn.start();
  const socket = FakeWebSocket.all[0];
  socket.receive(connected);
  socket.drop(4003);
  assert.deepEqual(revoked, [4003]);
  assert.equal(conn.state, 'closed');
  assert.equal(log.down, 1);
  assert.ok(!log.states.some((s) => s.state === 'reconnecting'), 'never reconnecting');
  mock.timers.tick(60_000);
  assert.equal(FakeWebSocket.all.length, 1, 'no reconnect attempt');
  conn.reconnectNow();
  assert.equal(FakeWebSocket.all.length, 1, 'not even on request: it is stopped');
});
