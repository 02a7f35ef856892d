// Unit tests for the WebSocket connection (sdk-transport.js `Socket`) against a fake WebSocket:
// request/reply matching, what closing does to pending requests, and the heartbeat's liveness rule.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { Socket } from '../../sdk/sdk-transport.js';
import { FakeWebSocket } from '../support/fake-websocket.js';


function open() {
  globalThis.WebSocket = FakeWebSocket;
  const frames = [];
  const closes = [];
  const socket = new Socket('ws://test/ws', { onFrame: (f) => frames.push(f), onClose: (c) => closes.push(c) });
  return { socket, ws: FakeWebSocket.last, frames, closes };
}

test('a reply with the request id settles the request; other frames go to onFrame', async () => {
  const { socket, ws, frames } = open();
  const reply = socket.request('sync', { conversations: [] });
  const [sent] = ws.sent;
  assert.equal(sent.type, 'sync');
  assert.equal(typeof sent.id, 'string');
  ws.receive({ type: 'message.new', payload: { conversationId: 'c', sequenceNumber: 1 } });
  ws.receive({ id: sent.id, type: 'sync.result', payload: { conversations: [], newConversations: [], serverTime: 1 } });
  assert.deepEqual(await reply, { conversations: [], newConversations: [], serverTime: 1 });
  assert.deepEqual(frames.map((f) => f.type), ['message.new']);
});

test('an ack is never taken for a reply, even with a matching id', async () => {
  const { socket, ws, frames } = open();
  const reply = socket.request('presence.subscribe', { userIds: ['u'] });
  const id = ws.sent[0].id;
  ws.receive({ id, type: 'message.ack', payload: { messageId: 'm' } });
  assert.deepEqual(frames.map((f) => f.type), ['message.ack']);
  ws.receive({ id, type: 'presence.bulk', payload: { presences: [] } });
  assert.deepEqual(await reply, { presences: [] });
});

test('an error reply rejects with the protocol code', async () => {
  const { socket, ws } = open();
  const reply = socket.request('sync', {});
  ws.receive({ id: ws.sent[0].id, type: 'error', payload: { error: 'RATE_LIMITED', message: 'slow', retryAfter: 2 } });
  await assert.rejects(reply, (err) => err.code === 'RATE_LIMITED' && err.retryAfter === 2);
});

test('frames that are not JSON or have no type and payload are ignored', () => {
  const { ws, frames } = open();
  ws.onmessage({ data: 'not json' });
  ws.receive({ type: 'message.new' });
  ws.receive({ payload: {} });
  assert.equal(frames.length, 0);
});

test('a drop calls onClose once and rejects pending requests as OFFLINE', async () => {
  const { socket, ws, frames, closes } = open();
  const reply = socket.request('sync', {});
  ws.drop(1006);
  await assert.rejects(reply, (err) => err.code === 'OFFLINE');
  assert.deepEqual(closes, [1006]);
  assert.equal(socket.open, false);
  assert.equal(socket.send('heartbeat', {}), false);
  ws.receive({ type: 'message.new', payload: {} });
  ws.drop(1006);
  assert.equal(frames.length, 0, 'frames after the close are ignored');
  assert.deepEqual(closes, [1006], 'onClose is called once');
});

test('close() from this side rejects pending requests and does not call onClose', async () => {
  const { socket, ws, closes } = open();
  const reply = socket.request('sync', {});
  socket.close(1000);
  await assert.rejects(reply, (err) => err.code === 'OFFLINE');
  assert.equal(ws.closedWith, 1000);
  ws.drop(1000); // the browser's close event still arrives
  assert.deepEqual(closes, []);
});

test('a request times out when no reply comes', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { socket } = open();
  const reply = socket.request('sync', {}, 1000);
  t.mock.timers.tick(1001);
  await assert.rejects(reply, (err) => err.code === 'TIMEOUT');
});

test('the heartbeat sends every interval and gives up on a server silent for two intervals', (t) => {
  t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: 0 });
  const { socket, ws, closes } = open();
  socket.startHeartbeat(1000);
  t.mock.timers.tick(1000);
  assert.deepEqual(ws.sent.map((f) => f.type), ['heartbeat']);
  ws.receive({ type: 'heartbeat.ack', payload: { serverTime: 1 } }); // at 1000 ms
  t.mock.timers.tick(7000); // at 8000 ms: silent for 7000 ms, exactly 2 intervals + 5 s of slack
  assert.deepEqual(closes, [], 'not presumed gone within 2 intervals + 5 s of the last frame');
  assert.equal(ws.sent.filter((f) => f.type === 'heartbeat').length, 8);
  t.mock.timers.tick(1000); // at 9000 ms: silent for 8000 ms
  assert.equal(ws.closedWith, 4000);
  assert.deepEqual(closes, [4000]);
});
