// Unit tests for the message lifecycle on the client (sdk-lifecycle.js and what it changes in the
// timeline, sync and ConfabClient): a newer copy replaces the one held and an older one never
// does, the update cursor moves over contiguous changes only, sync asks from it and takes the
// cursor back, and edits, deletes, reactions and replies go on the wire as the protocol says.
import { test, mock, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { ConfabClient, MemoryStore, Timeline, UpdateCursor } from '../../sdk/confab.js';
import { syncRequest } from '../../sdk/sdk-sync.js';
import { FakeWebSocket } from '../support/fake-websocket.js';

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** Bob's message `seq` as the server has it after `update` changes (`text` its text). */
const bobs = (seq, text = 'm' + seq, update = 0, extra = {}) => ({
  messageId: 'b' + seq,
  conversationId: 'c1',
  senderId: 'bob',
  content: { type: 'text', text },
  sequenceNumber: seq,
  timestamp: 1000 + seq,
  updateSequence: update,
  ...extra,
});

test('a newer copy replaces the one held; an older or repeated one never does', () => {
  const t = new Timeline();
  t.insert(bobs(1));
  const reacted = { emoji: '👍', count: 1, userIds: ['me'] };
  assert.equal(t.insert(bobs(1, 'edited', 2, { editedAt: 5, reactions: [reacted] })).changed, true);
  assert.equal(t.insert(bobs(1, 'first edit', 1, { editedAt: 4 })).changed, false, 'late frame');
  assert.equal(t.insert(bobs(1)).changed, false, 'the original again');
  assert.equal(t.get('bob', 'b1')?.content.type === 'text' && t.get('bob', 'b1')?.content.text, 'edited');
  // A tombstone drops what it no longer has.
  t.insert({ ...bobs(1, '', 3, { deleted: true }), content: { type: 'deleted' } });
  const m = t.get('bob', 'b1');
  assert.deepEqual([m?.content, m?.deleted, m?.reactions, m?.editedAt, m?.updateSequence], [{ type: 'deleted' }, true, undefined, undefined, 3]);
});

test('the update cursor moves over contiguous changes only', () => {
  const c = new UpdateCursor(2);
  assert.equal(c.saw(4), true, 'a hole at 3');
  assert.equal(c.upTo, 2);
  assert.equal(c.saw(3), false);
  assert.equal(c.upTo, 4);
  c.saw(7);
  c.jump(6);
  assert.equal(c.upTo, 7, 'sync filled the hole below 7');
  c.jump(1);
  assert.equal(c.upTo, 7, 'never backwards');
  assert.equal(c.hasGap, false);
});

test('syncRequest carries each conversation’s update cursor when asked to', () => {
  assert.deepEqual(syncRequest(['a'], () => 4, 10, () => 9), {
    conversations: [{ conversationId: 'a', lastSequence: 4, lastUpdateSequence: 9 }],
    limit: 10,
  });
});

afterEach(() => mock.restoreAll());

async function onlineClient(rest = async () => ({})) {
  FakeWebSocket.all = [];
  globalThis.WebSocket = FakeWebSocket;
  const conversation = {
    conversationId: 'c1',
    type: 'group',
    name: 'g',
    participants: [
      { userId: 'me', role: 'admin' },
      { userId: 'bob', role: 'member' },
    ],
    lastSequence: 2,
    lastReadSequence: 0,
    createdAt: 1,
    lastUpdateSequence: 0,
  };
  const calls = [];
  mock.method(globalThis, 'fetch', async (url, init) => {
    const u = new URL(url);
    calls.push({ method: init?.method || 'GET', path: u.pathname + u.search });
    const body =
      u.pathname === '/api/v1/conversations'
        ? { conversations: [conversation] }
        : u.pathname.startsWith('/api/v1/users')
          ? { userId: 'x', username: 'x', displayName: 'X' }
          : await rest(u, init);
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
  const [sync] = ws.frames('sync');
  ws.receive({
    id: sync.id,
    type: 'sync.result',
    payload: {
      conversations: [{ conversationId: 'c1', messages: [bobs(1), bobs(2)], hasMore: false, lastSequence: 2, unreadCount: 2, updates: [], lastUpdateSequence: 0, firstSequence: 1 }],
      newConversations: [],
      serverTime: 0,
    },
  });
  await settle();
  return { client, ws, calls, reasons };
}

test('message.updated changes the timeline; a hole in the update sequence makes it sync from the cursor', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { client, ws, reasons } = await onlineClient();
  ws.receive({ type: 'message.updated', payload: { message: bobs(1, 'edited', 1, { editedAt: 9 }) } });
  assert.equal(client.timeline('c1').get('bob', 'b1')?.editedAt, 9);
  assert.equal(client.timeline('c1').updates.upTo, 1);
  assert.ok(reasons.includes('updated'));
  // Update 3 arrives, 2 does not: after the grace period, a sync from the update cursor.
  ws.receive({ type: 'message.updated', payload: { message: bobs(2, 'x', 3) } });
  assert.equal(ws.frames('sync').length, 1);
  t.mock.timers.tick(2000);
  await settle();
  const [, again] = ws.frames('sync');
  assert.deepEqual(again.payload.conversations, [{ conversationId: 'c1', lastSequence: 2, lastUpdateSequence: 1 }]);
  ws.receive({
    id: again.id,
    type: 'sync.result',
    payload: {
      conversations: [{ conversationId: 'c1', messages: [], hasMore: false, lastSequence: 2, unreadCount: 0, updates: [bobs(1, 'deleted', 2, { deleted: true })], lastUpdateSequence: 3, firstSequence: 1 }],
      newConversations: [],
      serverTime: 0,
    },
  });
  await settle();
  assert.equal(client.timeline('c1').updates.upTo, 3);
  assert.equal(client.timeline('c1').get('bob', 'b1')?.deleted, true);
  assert.equal(client.conversations.get('c1')?.local.updatesUpTo, 3, 'kept with the conversation');
  client.stop();
});

test('edits, deletes, reactions and replies go on the wire as the protocol says', async () => {
  const { client, ws } = await onlineClient();
  const reply = client.reply('c1', 'answer', 'b1');
  const [send] = ws.frames('message.send');
  assert.deepEqual(send.payload, { messageId: reply.messageId, conversationId: 'c1', content: { type: 'text', text: 'answer' }, replyTo: 'b1' });

  const reacting = client.react('c1', 'b1', '👍');
  const [add] = ws.frames('reaction.add');
  assert.deepEqual(add.payload, { conversationId: 'c1', messageId: 'b1', emoji: '👍' });
  const reacted = bobs(1, 'm1', 1, { reactions: [{ emoji: '👍', count: 1, userIds: ['me'] }] });
  ws.receive({ id: add.id, type: 'message.updated', payload: { message: reacted } });
  assert.deepEqual((await reacting).reactions, reacted.reactions);
  assert.deepEqual(client.timeline('c1').get('bob', 'b1')?.reactions, reacted.reactions, 'the reply is taken in at once');

  const deleting = client.deleteMessage('c1', 'b2', 'bob');
  const [del] = ws.frames('message.delete');
  assert.deepEqual(del.payload, { conversationId: 'c1', messageId: 'b2', senderId: 'bob' });
  ws.receive({ id: del.id, type: 'error', payload: { error: 'FORBIDDEN', message: 'no' } });
  await assert.rejects(deleting, (e) => e.code === 'FORBIDDEN');

  const unreacting = client.unreact('c1', 'b1', '👍');
  assert.equal(ws.frames('reaction.remove').length, 1);
  client.stop();
  await assert.rejects(unreacting, (e) => e.code === 'OFFLINE', 'a request cut off by stop() says so');
});

test('offline, changes go over REST with the emoji URL-encoded', async () => {
  const { client, ws, calls } = await onlineClient(async (u) => bobs(1, 'm1', 4));
  ws.drop(1006);
  await settle();
  await client.react('c1', 'b 1', '👍🏽');
  await client.deleteMessage('c1', 'b1', 'bob');
  const changes = calls.filter((c) => c.path.includes('/messages/'));
  assert.deepEqual(changes, [
    { method: 'PUT', path: '/api/v1/conversations/c1/messages/b%201/reactions/%F0%9F%91%8D%F0%9F%8F%BD' },
    { method: 'DELETE', path: '/api/v1/conversations/c1/messages/b1?senderId=bob' },
  ]);
  assert.equal(client.timeline('c1').get('bob', 'b1')?.updateSequence, 4);
  client.stop();
});
