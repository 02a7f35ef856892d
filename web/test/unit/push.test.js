// Unit tests for push notifications and muting (sdk-push.js) against a fake server: the requests
// the client makes (the config without a session, subscriptions with this device's id, a browser
// PushSubscription or its JSON, ids as one path segment), the conversation held (and stored)
// following a mute or unmute with its events, `isMuted` ending timed mutes by itself, and
// `applicationServerKey` decoding the server's key.
import { test, mock, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { ConfabClient, MemoryStore, applicationServerKey, isMuted } from '../../sdk/confab.js';
import { FakeWebSocket } from '../support/fake-websocket.js';

const json = (body, status = 200) =>
  new Response(body === null ? null : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

afterEach(() => mock.restoreAll());

/** A real-looking browser key pair's public half and auth secret (the server checks the point). */
const P256DH = 'BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4';
const AUTH = 'BTBZMqHH6r4Tts7J_aSIgg';

const direct = (overrides = {}) => ({
  conversationId: 'c/1',
  type: 'direct',
  participants: [
    { userId: 'me', role: 'member' },
    { userId: 'bob', role: 'member' },
  ],
  memberCount: 2,
  createdAt: 1,
  lastSequence: 0,
  lastReadSequence: 0,
  unreadCount: 0,
  lastUpdateSequence: 0,
  firstSequence: 1,
  muted: false,
  ...overrides,
});

/** A client (not started) whose REST calls `route` answers; every call is recorded in `calls`. */
function client(route) {
  FakeWebSocket.all = [];
  globalThis.WebSocket = FakeWebSocket;
  const calls = [];
  mock.method(globalThis, 'fetch', async (url, init) => {
    const path = decodeURIComponent(new URL(url).pathname.replace('/api/v1', ''));
    const body = init.body ? JSON.parse(init.body) : undefined;
    calls.push({ method: init.method, path, body, raw: new URL(url).pathname, auth: init.headers.Authorization });
    return (await route(init.method, path, body)) || json({ userId: 'x', username: 'x', displayName: 'X' });
  });
  const session = { baseUrl: 'http://test', token: 'tok', userId: 'me', username: 'me', displayName: 'Me', expiresAt: 0 };
  const store = new MemoryStore();
  const c = new ConfabClient({ session, deviceId: 'dev1', store });
  return { client: c, calls, store };
}

test('pushConfig asks without the session; subscriptions are listed and deleted by id', async () => {
  const { client: c, calls } = client((method, path) => {
    if (path === '/push/config') return json({ webPushPublicKey: P256DH, kinds: ['webpush'] });
    if (path === '/push/subscriptions' && method === 'GET') {
      return json({ subscriptions: [{ subscriptionId: 's/1', deviceId: 'dev1', kind: 'webpush', createdAt: 5 }] });
    }
    if (path === '/push/subscriptions/s/1' && method === 'DELETE') return new Response(null, { status: 204 });
    return undefined;
  });
  assert.deepEqual(await c.pushConfig(), { webPushPublicKey: P256DH, kinds: ['webpush'] });
  assert.equal(calls[0].auth, undefined, 'the config is public: no token sent');
  const subs = await c.pushSubscriptions();
  assert.deepEqual(subs.map((s) => s.subscriptionId), ['s/1']);
  assert.equal(calls[1].auth, 'Bearer tok');
  assert.equal(await c.unsubscribePush('s/1'), undefined);
  assert.equal(calls[2].raw, '/api/v1/push/subscriptions/s%2F1', 'the id is one path segment');
});

test('subscribeWebPush sends a browser subscription (or its JSON) with this device id', async () => {
  const { client: c, calls } = client((method, path, body) => {
    if (method === 'POST' && path === '/push/subscriptions') {
      return json({ subscriptionId: 'sub-' + calls.length, deviceId: body.deviceId, kind: body.kind, createdAt: 7 }, 201);
    }
    return undefined;
  });
  const endpoint = 'https://push.example.com/sub/abc';
  // What pushManager.subscribe resolves to: keys only through toJSON() (getKey gives bytes).
  const browserSubscription = {
    endpoint,
    expirationTime: null,
    getKey: () => new ArrayBuffer(0),
    toJSON: () => ({ endpoint, expirationTime: null, keys: { p256dh: P256DH, auth: AUTH } }),
  };
  const made = await c.subscribeWebPush(browserSubscription);
  assert.deepEqual(made, { subscriptionId: 'sub-1', deviceId: 'dev1', kind: 'webpush', createdAt: 7 });
  await c.subscribeWebPush({ endpoint, keys: { p256dh: P256DH, auth: AUTH } });
  const expected = { deviceId: 'dev1', kind: 'webpush', endpoint, keys: { p256dh: P256DH, auth: AUTH } };
  assert.deepEqual(calls.map((x) => x.body), [expected, expected]);
  // Other kinds: what is given, this device's id by default.
  await c.subscribePush({ kind: 'fcm', token: 'fcm-token' });
  await c.subscribePush({ kind: 'webhook', deviceId: 'other' });
  assert.deepEqual(calls.slice(2).map((x) => x.body), [
    { deviceId: 'dev1', kind: 'fcm', token: 'fcm-token' },
    { deviceId: 'other', kind: 'webhook' },
  ]);
  await assert.rejects(c.subscribeWebPush({ endpoint }), TypeError, 'no keys: not a Web Push subscription');
  assert.equal(calls.length, 4, 'nothing sent for it');
});

test('a refused subscription rejects with the server error', async () => {
  const { client: c } = client((method) => {
    if (method === 'POST') return json({ error: 'INVALID_REQUEST', message: 'the endpoint must use https' }, 400);
    return undefined;
  });
  await assert.rejects(
    c.subscribeWebPush({ endpoint: 'http://push.example.com/x', keys: { p256dh: P256DH, auth: AUTH } }),
    (err) => err.code === 'INVALID_REQUEST' && err.status === 400 && /https/.test(err.message),
  );
});

test('mute and unmute put the setting; the conversation held and stored follows, with events', async () => {
  const now = Date.now();
  const { client: c, calls, store } = client((method, path, body) => {
    if (path === '/conversations') return json({ conversations: [direct()] });
    if (method === 'PUT' && path === '/conversations/c/1/notifications') {
      return json(body.muted ? (body.mutedUntil ? { muted: true, mutedUntil: body.mutedUntil } : { muted: true }) : { muted: false });
    }
    return undefined;
  });
  await c.refreshConversations();
  const events = [];
  c.addEventListener('conversation', (e) => events.push({ muted: e.detail.conversation.muted, until: e.detail.conversation.mutedUntil, isNew: e.detail.isNew }));
  let listChanged = 0;
  c.addEventListener('conversations', () => listChanged++);
  const stored = async () => (await store.getConversations()).find((x) => x.conversationId === 'c/1');

  assert.deepEqual(await c.mute('c/1', now + 3600_000), { muted: true, mutedUntil: now + 3600_000 });
  assert.equal(c.conversations.get('c/1').muted, true);
  assert.equal(c.conversations.get('c/1').mutedUntil, now + 3600_000);
  assert.equal(isMuted(c.conversations.get('c/1')), true);
  assert.equal((await stored()).mutedUntil, now + 3600_000, 'kept in local storage');

  assert.deepEqual(await c.mute('c/1'), { muted: true });
  assert.equal(c.conversations.get('c/1').muted, true);
  assert.equal('mutedUntil' in c.conversations.get('c/1'), false, 'until unmuted: no mutedUntil');

  assert.deepEqual(await c.unmute('c/1'), { muted: false });
  assert.equal(c.conversations.get('c/1').muted, false);
  assert.equal((await stored()).muted, false);

  // setNotifications sends mutedUntil only with a mute.
  await c.setNotifications('c/1', { muted: false, mutedUntil: now + 5000 });
  const puts = calls.filter((x) => x.method === 'PUT');
  assert.deepEqual(puts.map((x) => x.body), [{ muted: true, mutedUntil: now + 3600_000 }, { muted: true }, { muted: false }, { muted: false }]);
  assert.equal(puts[0].raw, '/api/v1/conversations/c%2F1/notifications');
  assert.deepEqual(events, [
    { muted: true, until: now + 3600_000, isNew: false },
    { muted: true, until: undefined, isNew: false },
    { muted: false, until: undefined, isNew: false },
    { muted: false, until: undefined, isNew: false },
  ]);
  assert.equal(listChanged, 4);
});

test('a refused mute rejects and leaves the conversation as it was', async () => {
  const { client: c } = client((method, path) => {
    if (path === '/conversations') return json({ conversations: [direct()] });
    if (method === 'PUT') return json({ error: 'INVALID_REQUEST', message: 'mutedUntil is more than a year ahead' }, 400);
    return undefined;
  });
  await c.refreshConversations();
  await assert.rejects(c.mute('c/1', Date.now() + 400 * 24 * 3600_000), (err) => err.code === 'INVALID_REQUEST');
  assert.equal(c.conversations.get('c/1').muted, false);
});

test('conversations from the server carry their mute; isMuted ends a timed one by itself', async () => {
  const { client: c } = client((method, path) => {
    if (path === '/conversations') return json({ conversations: [direct({ muted: true, mutedUntil: 2000 })] });
    return undefined;
  });
  await c.refreshConversations();
  const held = c.conversations.get('c/1');
  assert.equal(isMuted(held, 1999), true);
  assert.equal(isMuted(held, 2000), false, 'over at mutedUntil');
  assert.equal(isMuted({ muted: true }, 1e15), true, 'until unmuted');
  assert.equal(isMuted({ muted: true, mutedUntil: null }, 1e15), true);
  assert.equal(isMuted({ muted: false, mutedUntil: 5000 }, 1), false);
  assert.equal(isMuted(undefined), false);
  assert.equal(isMuted({}), false, 'stored before mutes existed');
});

test('applicationServerKey decodes the base64url key into the 65 bytes of a P-256 point', () => {
  const key = applicationServerKey(P256DH);
  assert.ok(key instanceof Uint8Array);
  assert.equal(key.length, 65);
  assert.equal(key[0], 0x04, 'uncompressed point');
  assert.equal(Buffer.from(key).toString('base64url'), P256DH);
  assert.deepEqual([...applicationServerKey('-_8')], [0xfb, 0xff], 'url alphabet, no padding');
});
