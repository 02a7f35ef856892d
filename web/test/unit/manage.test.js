// Unit tests for blocking (sdk-blocks.js, `client.blocks`) and group management
// (`updateGroup`, `setRole` of sdk-conversations.js) against a fake server: the requests they make,
// the state they keep, and the events they fire.
import { test, mock, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { ConfabClient, MemoryStore } from '../../sdk/confab.js';
import { FakeWebSocket } from '../support/fake-websocket.js';

const json = (body, status = 200) =>
  new Response(body === null ? null : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

afterEach(() => mock.restoreAll());

const group = (overrides = {}) => ({
  conversationId: 'g1',
  type: 'group',
  name: 'Team',
  participants: [
    { userId: 'me', role: 'admin' },
    { userId: 'bob', role: 'member' },
  ],
  memberCount: 2,
  settings: { onlyAdminsCanPost: false, allowMemberInvites: false },
  createdAt: 1,
  lastSequence: 0,
  lastReadSequence: 0,
  unreadCount: 0,
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
    calls.push({ method: init.method, path, body, raw: new URL(url).pathname });
    return (await route(init.method, path, body)) || json({ userId: 'x', username: 'x', displayName: 'X' });
  });
  const session = { baseUrl: 'http://test', token: 'tok', userId: 'me', username: 'me', displayName: 'Me', expiresAt: 0 };
  const c = new ConfabClient({ session, deviceId: 'dev1', store: new MemoryStore() });
  const events = [];
  c.addEventListener('blocks', (e) => events.push(e.detail.blocks.map((b) => b.user.userId)));
  return { client: c, calls, events };
}

test('blocking and unblocking call the server and keep the list, firing `blocks`', async () => {
  let blocked = [];
  const bob = { userId: 'u/bob', username: 'bob', displayName: 'Bob' };
  const { client: c, calls, events } = client((method, path) => {
    if (path === '/users/me/blocks') return json({ blocks: blocked.map((user) => ({ user, blockedAt: 5 })) });
    if (path === '/users/me/blocks/u/bob' && method === 'PUT') {
      blocked = [bob];
      return new Response(null, { status: 204 });
    }
    if (path === '/users/me/blocks/u/bob' && method === 'DELETE') {
      blocked = [];
      return new Response(null, { status: 204 });
    }
    return undefined;
  });
  assert.equal(c.blocks.isBlocked('u/bob'), false, 'nothing known before loading');
  assert.deepEqual(await c.blocks.refresh(), []);
  const after = await c.blocks.block('u/bob');
  assert.deepEqual(after.map((b) => b.user.userId), ['u/bob']);
  assert.equal(c.blocks.isBlocked('u/bob'), true);
  assert.equal(c.blocks.isBlocked('someone'), false);
  await c.blocks.unblock('u/bob');
  assert.equal(c.blocks.isBlocked('u/bob'), false);
  assert.deepEqual(events, [[], ['u/bob'], []]);
  const writes = calls.filter((x) => x.method !== 'GET').map((x) => `${x.method} ${x.path}`);
  assert.deepEqual(writes, ['PUT /users/me/blocks/u/bob', 'DELETE /users/me/blocks/u/bob']);
  assert.equal(calls.find((x) => x.method === 'PUT').raw, '/api/v1/users/me/blocks/u%2Fbob', 'the id is one path segment');
});

test('a refused block rejects with the server error and leaves the list as it was', async () => {
  const { client: c, events } = client((method, path) => {
    if (path === '/users/me/blocks') return json({ blocks: [] });
    if (method === 'PUT') return json({ error: 'USER_NOT_FOUND', message: 'user not found: ghost' }, 404);
    return undefined;
  });
  await c.blocks.refresh();
  await assert.rejects(c.blocks.block('ghost'), (err) => err.code === 'USER_NOT_FOUND' && err.status === 404);
  assert.deepEqual(c.blocks.list, []);
  assert.deepEqual(events, [[]]);
});

test('updateGroup sends only what changes and takes in the group the server answers', async () => {
  const { client: c, calls } = client((method, path, body) => {
    if (method === 'PATCH' && path === '/conversations/g1') {
      return json(group({ name: body.name ?? 'Team', settings: { onlyAdminsCanPost: !!body.settings?.onlyAdminsCanPost, allowMemberInvites: false } }));
    }
    return undefined;
  });
  const renamed = await c.updateGroup('g1', { name: 'Night owls' });
  assert.equal(renamed.name, 'Night owls');
  assert.equal(c.conversations.get('g1').name, 'Night owls', 'held by the client');
  const quiet = await c.updateGroup('g1', { settings: { onlyAdminsCanPost: true } });
  assert.equal(quiet.settings.onlyAdminsCanPost, true);
  assert.deepEqual(
    calls.filter((x) => x.method === 'PATCH').map((x) => x.body),
    [{ name: 'Night owls' }, { settings: { onlyAdminsCanPost: true } }],
  );
});

test('setRole puts the role and takes in the group; a refusal rejects with its code', async () => {
  const { client: c, calls } = client((method, path, body) => {
    if (method === 'PUT' && path === '/conversations/g1/members/bob/role') {
      return json(group({ participants: [{ userId: 'me', role: 'admin' }, { userId: 'bob', role: body.role }] }));
    }
    if (method === 'PUT' && path === '/conversations/g1/members/me/role') {
      return json({ error: 'INVALID_REQUEST', message: 'the last admin cannot step down; make another member admin first' }, 400);
    }
    return undefined;
  });
  const promoted = await c.setRole('g1', 'bob', 'admin');
  assert.equal(promoted.participants.find((p) => p.userId === 'bob').role, 'admin');
  assert.deepEqual(calls.filter((x) => x.method === 'PUT').map((x) => x.body), [{ role: 'admin' }]);
  await assert.rejects(c.setRole('g1', 'me', 'member'), (err) => err.code === 'INVALID_REQUEST');
});
