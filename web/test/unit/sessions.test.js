// Unit tests for the session calls of ConfabClient (sdk-client.js): logout (best effort), logoutAll,
// changePassword, updateProfile, and signing out when the server revokes the session (a WebSocket
// close with 4003, or a REST call answered 401).
import { test, mock, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { ConfabClient, MemoryStore } from '../../sdk/confab.js';
import { FakeWebSocket } from '../support/fake-websocket.js';


const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

const json = (body, status = 200) =>
  new Response(body === null ? null : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

afterEach(() => mock.restoreAll());

/**
 * A started, online client over a fake WebSocket. `route(method, path, body)` answers REST calls
 * (a Response, or a thrown error for an unreachable server); every call is recorded in `calls`.
 */
async function client(route = () => undefined) {
  FakeWebSocket.all = [];
  globalThis.WebSocket = FakeWebSocket;
  const calls = [];
  mock.method(globalThis, 'fetch', async (url, init) => {
    const path = new URL(url).pathname.replace('/api/v1', '');
    const body = init.body ? JSON.parse(init.body) : undefined;
    calls.push({ method: init.method, path, body, auth: init.headers.Authorization });
    const answer = await route(init.method, path, body);
    if (answer) return answer;
    if (path === '/conversations') return json({ conversations: [] });
    return json({ userId: path.split('/').pop(), username: 'x', displayName: 'X' });
  });
  const session = { baseUrl: 'http://test', token: 'tok', userId: 'me', username: 'me', displayName: 'Me', expiresAt: 0 };
  const store = new MemoryStore();
  const destroyed = mock.method(store, 'destroy');
  const c = new ConfabClient({ session, deviceId: 'dev1', store, backoff: { base: 10, max: 10 } });
  const events = [];
  for (const type of ['signedout', 'unauthorized', 'user']) c.addEventListener(type, (e) => events.push({ type, ...e.detail }));
  await c.start();
  const hello = { connectionId: 'k', userId: 'me', deviceId: 'dev1', serverTime: Date.now(), heartbeatInterval: 30000 };
  FakeWebSocket.all[0].receive({ type: 'connected', payload: { ...hello, resumeToken: '' } });
  await settle();
  return { client: c, calls, events, destroyed };
}

test('a close with 4003 signs out: `signedout` (revoked), closed, no reconnect', async () => {
  const { client: c, events } = await client();
  FakeWebSocket.all[0].drop(4003);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(c.state, 'closed');
  assert.equal(c.signedOut, true);
  assert.equal(FakeWebSocket.all.length, 1, 'no reconnect');
  const signedout = events.filter((e) => e.type === 'signedout');
  assert.equal(signedout.length, 1);
  assert.equal(signedout[0].reason, 'revoked');
  assert.equal(signedout[0].code, 4003);
});

test('another close code reconnects and does not sign out', async () => {
  const { client: c, events } = await client();
  FakeWebSocket.all[0].drop(4001);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(FakeWebSocket.all.length, 2, 'reconnects');
  assert.equal(c.signedOut, false);
  assert.deepEqual(events.filter((e) => e.type === 'signedout'), []);
  c.stop();
});

test('a REST call answered 401 signs out once (`unauthorized`, then `signedout`)', async () => {
  let revoked = false;
  const { client: c, events } = await client(() =>
    revoked ? json({ error: 'UNAUTHORIZED', message: 'session revoked' }, 401) : undefined,
  );
  revoked = true;
  await assert.rejects(c.refreshConversations(), (err) => err.status === 401);
  await assert.rejects(c.api('GET', '/users/me'), (err) => err.status === 401);
  assert.equal(c.state, 'closed');
  assert.deepEqual(events.filter((e) => e.type !== 'user').map((e) => [e.type, e.reason]), [
    ['unauthorized', undefined],
    ['signedout', 'unauthorized'],
  ]);
});

test('changePassword: a wrong old password (401) rejects without signing out', async () => {
  const { client: c, calls, events } = await client((method, path, body) => {
    if (path !== '/users/me/password') return undefined;
    if (body.oldPassword !== 'old one here') return json({ error: 'UNAUTHORIZED', message: 'wrong password' }, 401);
    if (body.newPassword === 'password') return json({ error: 'INVALID_REQUEST', message: 'password is too easy to guess' }, 400);
    return json(null, 204);
  });
  await assert.rejects(c.changePassword('nope', 'a much better one'), (err) => err.code === 'UNAUTHORIZED');
  assert.equal(c.signedOut, false);
  assert.equal(c.state, 'online');
  await assert.rejects(c.changePassword('old one here', 'password'), (err) => err.message === 'password is too easy to guess');
  await c.changePassword('old one here', 'a much better one');
  assert.deepEqual(calls.filter((x) => x.path === '/users/me/password').at(-1), {
    method: 'PUT',
    path: '/users/me/password',
    body: { oldPassword: 'old one here', newPassword: 'a much better one' },
    auth: 'Bearer tok',
  });
  assert.deepEqual(events.filter((e) => e.type === 'signedout'), []);
  c.stop();
});

test('updateProfile: PATCH /users/me, the users cache takes the new name and `user` fires', async () => {
  const { client: c, calls, events } = await client((method, path, body) =>
    method === 'PATCH' ? json({ userId: 'me', username: 'me', displayName: body.displayName }) : undefined,
  );
  const user = await c.updateProfile({ displayName: 'New Name' });
  assert.equal(user.displayName, 'New Name');
  assert.deepEqual(calls.at(-1).body, { displayName: 'New Name' });
  assert.equal(c.userName('me'), 'New Name');
  assert.ok(events.some((e) => e.type === 'user' && e.user.displayName === 'New Name'));
  c.stop();
});

test('updateProfile({showLastSeen}): sends only that setting; profile() reads it back', async () => {
  let show = true;
  const { client: c, calls } = await client((method, path, body) => {
    if (path !== '/users/me') return undefined;
    if (method === 'PATCH') show = body.showLastSeen;
    return json({ userId: 'me', username: 'me', displayName: 'Me', showLastSeen: show });
  });
  const profile = await c.updateProfile({ showLastSeen: false });
  assert.equal(profile.showLastSeen, false);
  assert.deepEqual(calls.at(-1).body, { showLastSeen: false });
  assert.equal((await c.profile()).showLastSeen, false);
  assert.equal(calls.at(-1).method, 'GET');
  c.stop();
});

test('logout: POST /auth/logout, then local data is gone; also when the server is unreachable', async () => {
  const first = await client();
  await first.client.logout();
  assert.deepEqual(first.calls.filter((x) => x.path === '/auth/logout').map((x) => [x.method, x.auth]), [['POST', 'Bearer tok']]);
  assert.equal(first.destroyed.mock.callCount(), 1);
  assert.equal(first.client.state, 'closed');

  const second = await client((method, path) => {
    if (path === '/auth/logout') throw new TypeError('Failed to fetch');
    return undefined;
  });
  await second.client.logout();
  assert.equal(second.destroyed.mock.callCount(), 1, 'signed out here anyway');
  assert.equal(second.client.signedOut, true);
});

test('logoutAll: POST /auth/logout-all then signs out here; a refusal keeps the session', async () => {
  let refuse = true;
  const { client: c, calls, destroyed } = await client((method, path) =>
    path === '/auth/logout-all' ? (refuse ? json({ error: 'INTERNAL', message: 'down' }, 500) : json(null, 204)) : undefined,
  );
  await assert.rejects(c.logoutAll());
  assert.equal(c.signedOut, false);
  assert.equal(destroyed.mock.callCount(), 0);
  refuse = false;
  await c.logoutAll();
  assert.equal(calls.filter((x) => x.path === '/auth/logout-all').length, 2);
  assert.equal(destroyed.mock.callCount(), 1);
  assert.equal(c.state, 'closed');
});
