// Unit tests for disappearing messages on the client (sdk-expiry.js and the client around it): a
// message past its expiresAt becomes a tombstone, the timer fires at the soonest expiry, a send
// carries expiresInSeconds on the wire and the ack fixes expiresAt from the server's timestamp.
import { test, mock, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { ConfabClient, MemoryStore } from '../../sdk/confab.js';
import { expire, nextExpiry } from '../../sdk/sdk-expiry.js';
import { FakeWebSocket } from '../support/fake-websocket.js';

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

afterEach(() => mock.restoreAll());

const msg = (seq, extra = {}) => ({
  messageId: 'm' + seq,
  conversationId: 'c1',
  senderId: 'bob',
  content: { type: 'text', text: 'secret ' + seq },
  sequenceNumber: seq,
  timestamp: 1000,
  updateSequence: 0,
  ...extra,
});

test('a message turns into a tombstone at its expiry, not before, and only once', () => {
  const m = msg(1, { expiresAt: 5000, replyTo: 'x', reactions: [{ emoji: '👍', count: 1, userIds: ['a'] }] });
  assert.equal(expire(m, 4999), false);
  assert.equal(m.content.type, 'text');
  assert.equal(expire(m, 5000), true);
  assert.deepEqual(
    [m.content, m.deleted, m.replyTo, m.reactions, m.expiresAt, m.updateSequence],
    [{ type: 'deleted' }, true, undefined, undefined, 5000, 0],
  );
  assert.equal(expire(m, 9000), false, 'already a tombstone');
  assert.equal(expire(msg(2), 1e15), false, 'no expiry, never');
});

test('the next expiry is the soonest one still ahead', () => {
  const list = [msg(1, { expiresAt: 3000 }), msg(2, { expiresAt: 2000 }), msg(3), msg(4, { expiresAt: 1500, deleted: true })];
  assert.equal(nextExpiry(list, 1000), 2000);
  assert.equal(nextExpiry(list, 2500), 3000);
  assert.equal(nextExpiry(list, 3000), null);
});

test('a disappearing send carries expiresInSeconds, and the client hides it when it expires', async () => {
  FakeWebSocket.all = [];
  globalThis.WebSocket = FakeWebSocket;
  const conversation = {
    conversationId: 'c1',
    type: 'direct',
    participants: [
      { userId: 'me', role: 'member' },
      { userId: 'bob', role: 'member' },
    ],
    lastSequence: 0,
    lastReadSequence: 0,
    createdAt: 1,
    lastUpdateSequence: 0,
  };
  mock.method(globalThis, 'fetch', async (url) => {
    const u = new URL(url);
    const body =
      u.pathname === '/api/v1/conversations' ? { conversations: [conversation] } : { userId: 'bob', username: 'bob', displayName: 'Bob' };
    return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
  });
  const session = { baseUrl: 'http://test', token: 'tok', userId: 'me', username: 'me', displayName: 'Me', expiresAt: 0 };
  const client = new ConfabClient({ session, deviceId: 'dev1', store: new MemoryStore() });
  const reasons = [];
  client.addEventListener('messages', (e) => reasons.push(e.detail.reason));
  await client.start();
  const ws = FakeWebSocket.all[0];
  ws.receive({ type: 'connected', payload: { connectionId: 'k', userId: 'me', deviceId: 'dev1', serverTime: Date.now(), heartbeatInterval: 30000, resumeToken: '' } });
  await settle();

  const local = client.sendText('c1', 'gone soon', { expiresInSeconds: 1 });
  await settle();
  const [sent] = ws.frames('message.send');
  assert.equal(sent.payload.expiresInSeconds, 1);
  // The server stored it 950 ms ago: it expires 50 ms from now.
  const timestamp = Date.now() - 950;
  ws.receive({ id: sent.id, type: 'message.ack', payload: { messageId: local.messageId, conversationId: 'c1', sequenceNumber: 1, timestamp } });
  await settle();
  const held = client.messages('c1')[0];
  assert.equal(held.expiresAt, timestamp + 1000);
  assert.equal(held.content.type, 'text');
  await new Promise((resolve) => setTimeout(resolve, 120));
  assert.equal(client.messages('c1')[0].content.type, 'deleted');
  assert.ok(reasons.includes('expired'));
  client.stop();
});
