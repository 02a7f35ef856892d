// Unit tests for ConfabClient as a whole (sdk-client.js and the parts it composes) in Node, over a
// fake WebSocket, a stubbed REST API and MemoryStore: what goes on the wire on connecting (sync
// from the cursor, received markers), sending and its statuses, gap-triggered sync, stop().
import { test, mock, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { ConfabClient, MemoryStore } from '../../sdk/confab.js';
import { FakeWebSocket } from '../support/fake-websocket.js';


const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

const conversation = {
  conversationId: 'c1',
  type: 'direct',
  name: null,
  participants: [
    { userId: 'me', role: 'member' },
    { userId: 'bob', role: 'member' },
  ],
  lastSequence: 2,
  lastReadSequence: 0,
  createdAt: 1,
};

/** @param {number} seq */
const fromBob = (seq) => ({
  messageId: 'b' + seq,
  conversationId: 'c1',
  senderId: 'bob',
  content: { type: 'text', text: 'm' + seq },
  sequenceNumber: seq,
  timestamp: 1000 + seq,
});

/** The reply to a `sync` frame: conversation c1 with these messages. */
const syncResult = (/** @type {{ id: string }} */ request, messages = []) => ({
  id: request.id,
  type: 'sync.result',
  payload: {
    conversations: messages.length ? [{ conversationId: 'c1', messages, hasMore: false, lastSequence: 2 }] : [],
    newConversations: [],
    serverTime: 0,
  },
});

afterEach(() => mock.restoreAll());

async function onlineClient() {
  FakeWebSocket.all = [];
  globalThis.WebSocket = FakeWebSocket;
  mock.method(globalThis, 'fetch', async (url) => {
    const path = new URL(url).pathname;
    const body =
      path === '/api/v1/conversations'
        ? { conversations: [conversation] }
        : { userId: path.split('/').pop(), username: 'x', displayName: 'X' };
    return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
  });
  const session = { baseUrl: 'http://test', token: 'tok', userId: 'me', username: 'me', displayName: 'Me', expiresAt: 0 };
  const client = new ConfabClient({ session, deviceId: 'dev1', store: new MemoryStore() });
  const events = [];
  for (const type of ['connection', 'message', 'message.status', 'synced', 'conversation']) {
    client.addEventListener(type, (e) => events.push({ type, ...e.detail }));
  }
  await client.start();
  const ws = FakeWebSocket.all[0];
  assert.equal(ws.url, 'ws://test/ws?token=tok&device_id=dev1');
  const hello = { connectionId: 'k', userId: 'me', deviceId: 'dev1', serverTime: Date.now(), heartbeatInterval: 30000 };
  ws.receive({ type: 'connected', payload: { ...hello, resumeToken: '' } });
  await settle();
  return { client, ws, events };
}

test('on connecting: the list from REST, sync from the cursor, then message.received up to it', async () => {
  const { client, ws, events } = await onlineClient();
  assert.equal(client.state, 'online');
  assert.ok(events.some((e) => e.type === 'conversation' && e.isNew));
  const [sync] = ws.frames('sync');
  assert.deepEqual(sync.payload, {
    conversations: [{ conversationId: 'c1', lastSequence: 0, lastUpdateSequence: 0 }],
    limit: 200,
  });
  ws.receive(syncResult(sync, [fromBob(1), fromBob(2)]));
  await settle();
  assert.deepEqual(client.messages('c1').map((m) => m.sequenceNumber), [1, 2]);
  assert.equal(client.timeline('c1').syncedUpTo, 2);
  assert.deepEqual(ws.frames('message.received').map((f) => f.payload), [{ conversationId: 'c1', upToSequence: 2 }]);
  assert.equal(client.unreadCount('c1'), 2);
  client.markRead('c1');
  assert.deepEqual(ws.frames('message.read').map((f) => f.payload), [{ conversationId: 'c1', upToSequence: 2 }]);
  assert.equal(client.unreadCount('c1'), 0);
  assert.equal(events.filter((e) => e.type === 'synced').length, 1);
  assert.equal(client.conversationName('c1'), 'X');
  client.stop();
});

test('a sent message goes pending → sent → delivered → read; an error for its send fails it', async () => {
  const { client, ws, events } = await onlineClient();
  const sync = ws.frames('sync')[0];
  ws.receive(syncResult(sync));
  await settle();

  const m = client.sendText('c1', 'hello');
  assert.equal(m.status, 'pending');
  const [send] = ws.frames('message.send');
  assert.deepEqual(send.payload, { messageId: m.messageId, conversationId: 'c1', content: { type: 'text', text: 'hello' } });
  const ack = { messageId: m.messageId, conversationId: 'c1', sequenceNumber: 3, timestamp: 5 };
  ws.receive({ type: 'message.ack', id: send.id, payload: ack });
  const delivered = { conversationId: 'c1', messageIds: [], deliveredTo: 'bob', upToSequence: 3, timestamp: 6 };
  ws.receive({ type: 'message.delivered', payload: delivered });
  const read = { conversationId: 'c1', readBy: 'bob', readUpToSequence: 3, timestamp: 7 };
  ws.receive({ type: 'message.read_receipt', payload: read });
  const statuses = events.filter((e) => e.type === 'message.status' && e.messageId === m.messageId);
  assert.deepEqual(statuses.map((e) => e.status), ['delivered', 'read']);
  assert.equal(client.timeline('c1').get('me', m.messageId)?.status, 'read');
  assert.equal(client.timeline('c1').get('me', m.messageId)?.sequenceNumber, 3);

  const f = client.sendText('c1', 'not allowed');
  const failing = ws.frames('message.send').find((s) => s.payload.messageId === f.messageId);
  ws.receive({ type: 'error', id: failing.id, payload: { error: 'FORBIDDEN', message: 'no' } });
  assert.equal(client.timeline('c1').get('me', f.messageId)?.status, 'failed');
  assert.ok(events.some((e) => e.type === 'message.status' && e.status === 'failed' && e.error === 'FORBIDDEN'));
  assert.equal(client.retry(f.messageId), true);
  assert.equal(client.timeline('c1').get('me', f.messageId)?.status, 'pending');
  client.stop();
});

test('another member reusing a messageId gets a message of their own; own messages are still confirmed', async () => {
  const { client, ws, events } = await onlineClient();
  ws.receive(syncResult(ws.frames('sync')[0], [fromBob(1), fromBob(2)]));
  await settle();
  const shown = () => client.messages('c1').map((m) => [m.sequenceNumber, m.senderId, m.messageId, m.content.text, m.status]);

  // Bob's message reuses the id of one of mine that is still pending.
  const m = client.sendText('c1', 'mine');
  const [send] = ws.frames('message.send');
  const bobs = { ...fromBob(3), messageId: m.messageId, content: { type: 'text', text: 'bob reuses' } };
  ws.receive({ type: 'message.new', payload: bobs });
  await settle();
  assert.ok(events.some((e) => e.type === 'message' && e.message.senderId === 'bob' && e.message.messageId === m.messageId));
  assert.deepEqual(shown(), [
    [1, 'bob', 'b1', 'm1', undefined],
    [2, 'bob', 'b2', 'm2', undefined],
    [3, 'bob', m.messageId, 'bob reuses', undefined],
    [null, 'me', m.messageId, 'mine', 'pending'],
  ]);
  // The ack confirms mine, not Bob's.
  ws.receive({ type: 'message.ack', id: send.id, payload: { messageId: m.messageId, conversationId: 'c1', sequenceNumber: 4, timestamp: 9 } });
  const delivered = { conversationId: 'c1', messageIds: [], deliveredTo: 'bob', upToSequence: 4, timestamp: 10 };
  ws.receive({ type: 'message.delivered', payload: delivered });
  // My other device reuses the id of one of Bob's; Bob's own duplicate is still dropped.
  const mineElsewhere = { ...fromBob(5), senderId: 'me', messageId: 'b1', content: { type: 'text', text: 'other device' } };
  ws.receive({ type: 'message.new', payload: mineElsewhere });
  ws.receive({ type: 'message.new', payload: fromBob(1) });
  await settle();
  assert.deepEqual(shown(), [
    [1, 'bob', 'b1', 'm1', undefined],
    [2, 'bob', 'b2', 'm2', undefined],
    [3, 'bob', m.messageId, 'bob reuses', undefined],
    [4, 'me', m.messageId, 'mine', 'delivered'],
    [5, 'me', 'b1', 'other device', 'sent'],
  ]);
  assert.equal(client.timeline('c1').syncedUpTo, 5);
  // Both are stored.
  const stored = await client.store.getMessages('c1', 100, 10);
  assert.deepEqual(stored.map((s) => [s.sequenceNumber, s.senderId, s.messageId]), [
    [1, 'bob', 'b1'],
    [2, 'bob', 'b2'],
    [3, 'bob', m.messageId],
    [4, 'me', m.messageId],
    [5, 'me', 'b1'],
  ]);

  // A failed message of mine whose id Bob reused: failing and discarding it leaves Bob's alone.
  const f = client.sendText('c1', 'not allowed');
  const failing = ws.frames('message.send').find((s) => s.payload.messageId === f.messageId);
  ws.receive({ type: 'message.new', payload: { ...fromBob(6), messageId: f.messageId } });
  ws.receive({ type: 'error', id: failing.id, payload: { error: 'FORBIDDEN', message: 'no' } });
  assert.equal(client.timeline('c1').get('me', f.messageId)?.status, 'failed');
  assert.equal(client.timeline('c1').get('bob', f.messageId)?.sequenceNumber, 6);
  assert.equal(client.discard(f.messageId), true);
  assert.equal(client.timeline('c1').get('me', f.messageId), undefined);
  assert.deepEqual(client.messages('c1').slice(-1).map((x) => [x.sequenceNumber, x.senderId, x.messageId]), [[6, 'bob', f.messageId]]);
  client.stop();
});

test('a live message beyond the cursor fires `message` and syncs from the cursor', async () => {
  const { client, ws, events } = await onlineClient();
  const first = ws.frames('sync')[0];
  ws.receive(syncResult(first, [fromBob(1), fromBob(2)]));
  await settle();
  ws.receive({ type: 'typing.update', payload: { conversationId: 'c1', userId: 'bob', isTyping: true } });
  assert.deepEqual(client.typingUsers('c1'), ['bob']);
  ws.receive({ type: 'message.new', payload: fromBob(4) });
  await settle();
  assert.ok(events.some((e) => e.type === 'message' && e.message.messageId === 'b4'));
  assert.deepEqual(client.typingUsers('c1'), [], 'a message from someone ends their typing');
  const syncs = ws.frames('sync');
  assert.equal(syncs.length, 2);
  assert.deepEqual(syncs[1].payload.conversations, [{ conversationId: 'c1', lastSequence: 2, lastUpdateSequence: 0 }]);
  client.stop();
  assert.equal(client.state, 'closed');
  assert.equal(ws.closedWith, 1000);
});
