// Unit tests for reporting and the administrators' API of ConfabClient (sdk-admin.js), and for
// signing out a banned user: a WebSocket close with 4004, or a REST call answered `403 BANNED`.
import { test, mock, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { ConfabClient, MemoryStore } from '../../sdk/confab.js';
import { FakeWebSocket } from '../support/fake-websocket.js';

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

const json = (body, status = 200) =>
  new Response(body === null ? null : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

const BANNED = { error: 'BANNED', message: 'this account is suspended: spam', ban: { reason: 'spam', until: null } };

afterEach(() => mock.restoreAll());

/** A started, online client over a fake WebSocket; `route` answers REST calls, recorded in `calls`. */
async function client(route = () => undefined) {
  FakeWebSocket.all = [];
  globalThis.WebSocket = FakeWebSocket;
  const calls = [];
  mock.method(globalThis, 'fetch', async (url, init) => {
    const u = new URL(url);
    const path = u.pathname.replace('/api/v1', '') + u.search;
    const body = init.body ? JSON.parse(init.body) : undefined;
    calls.push({ method: init.method, path, body });
    const answer = await route(init.method, path, body);
    if (answer) return answer;
    if (path === '/conversations') return json({ conversations: [] });
    return json({ userId: 'me', username: 'me', displayName: 'Me', showLastSeen: true, admin: false });
  });
  const session = { baseUrl: 'http://test', token: 'tok', userId: 'me', username: 'me', displayName: 'Me', expiresAt: 0 };
  const c = new ConfabClient({ session, deviceId: 'dev1', store: new MemoryStore(), backoff: { base: 10, max: 10 } });
  const events = [];
  c.addEventListener('signedout', (e) => events.push(e.detail));
  await c.start();
  const hello = { connectionId: 'k', userId: 'me', deviceId: 'dev1', serverTime: Date.now(), heartbeatInterval: 30000 };
  FakeWebSocket.all[0].receive({ type: 'connected', payload: { ...hello, resumeToken: '' } });
  await settle();
  calls.length = 0;
  return { client: c, calls, events };
}

test('a close with 4004 asks why and signs out as banned, with the reason', async () => {
  const { client: c, calls, events } = await client((method, path) =>
    path === '/users/me' ? json(BANNED, 403) : undefined,
  );
  FakeWebSocket.all[0].drop(4004);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(calls.map((x) => x.path), ['/users/me']);
  assert.equal(c.signedOut, true);
  assert.equal(FakeWebSocket.all.length, 1, 'no reconnect');
  assert.equal(events.length, 1);
  assert.equal(events[0].reason, 'banned');
  assert.equal(events[0].code, 4004);
  assert.equal(events[0].error.code, 'BANNED');
  assert.deepEqual(events[0].error.ban, { reason: 'spam', until: null });
});

test('a close with 4004 after the ban was lifted reconnects', async () => {
  const { client: c, events } = await client();
  FakeWebSocket.all[0].drop(4004);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(c.signedOut, false);
  assert.equal(FakeWebSocket.all.length, 2, 'connects again');
  assert.deepEqual(events, []);
  c.stop();
});

test('a REST call answered 403 BANNED signs out as banned; FORBIDDEN does not', async () => {
  let answer = json({ error: 'FORBIDDEN', message: 'only server administrators may do this' }, 403);
  const { client: c, events } = await client((method, path) => (path.startsWith('/admin') ? answer : undefined));
  await assert.rejects(c.admin.stats(), (err) => err.code === 'FORBIDDEN' && err.status === 403);
  assert.equal(c.signedOut, false);
  answer = json(BANNED, 403);
  await assert.rejects(c.admin.stats(), (err) => err.code === 'BANNED' && err.ban.reason === 'spam');
  assert.equal(c.signedOut, true);
  assert.equal(events[0].reason, 'banned');
});

test('reports and administrators calls use their endpoints', async () => {
  const { client: c, calls } = await client((method, path) => {
    if (path === '/reports') return json({ reportId: 'r1', conversationId: 'c1', messageId: 'm 1', status: 'open', createdAt: 1 }, 201);
    return json({});
  });
  const receipt = await c.report('c1', 'm 1', 'spam');
  assert.equal(receipt.reportId, 'r1');
  await c.admin.users({ query: 'al i', cursor: 'bob', limit: 5 });
  await c.admin.ban('u/1', 'abuse', 99);
  await c.admin.ban('u2', 'abuse');
  await c.admin.unban('u/1');
  await c.admin.reports({ status: 'resolved' });
  await c.admin.resolve('r1', 'warned');
  await c.admin.sessions('u1');
  await c.admin.closeSession('u1', 's 1');
  await c.admin.closeSessions('u1');
  await c.admin.stats();
  assert.deepEqual(
    calls.map((x) => [x.method, x.path, x.body]),
    [
      ['POST', '/reports', { messageId: 'm 1', reason: 'spam', conversationId: 'c1' }],
      ['GET', '/admin/users?query=al+i&cursor=bob&limit=5', undefined],
      ['PUT', '/admin/users/u%2F1/ban', { reason: 'abuse', until: 99 }],
      ['PUT', '/admin/users/u2/ban', { reason: 'abuse' }],
      ['DELETE', '/admin/users/u%2F1/ban', undefined],
      ['GET', '/admin/reports?status=resolved', undefined],
      ['POST', '/admin/reports/r1/resolve', { resolution: 'warned' }],
      ['GET', '/admin/users/u1/sessions', undefined],
      ['DELETE', '/admin/users/u1/sessions/s%201', undefined],
      ['DELETE', '/admin/users/u1/sessions', undefined],
      ['GET', '/admin/stats', undefined],
    ],
  );
  c.stop();
});
