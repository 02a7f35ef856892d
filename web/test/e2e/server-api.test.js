// End-to-end: an application backend with an API key (`confab admin api-key create`) uses the JS
// SDK's ServerApi from Node: it opens a direct conversation for Bob with Alice, publishes as Bob,
// then publishes a notice as the system account. Alice's browser shows Bob's message as his and
// the notice as a notice (centred, no sender name, nothing to report); a revoked key is refused.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startServer, launchBrowser, serverBinary, register, openConversation, waitForMessage, shownMessages, ARTIFACTS } from './harness.js';
import { ServerApi, ConfabError } from '../../sdk/confab.js';

const T = 60000;
const servers = [];
let chrome;
const pageErrors = [];

after(async () => {
  await chrome?.close();
  for (const s of servers) await s.stop();
  assert.deepEqual(pageErrors, []);
});

/** Runs `confab admin` on the server's store; its JSON output. */
function admin(server, ...args) {
  const out = spawnSync(serverBinary(), ['admin', '--data-dir', server.dataDir, ...args], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  return JSON.parse(out.stdout);
}

test('an application publishes as a user and as the system account, and the browser shows the notice as one', { timeout: T }, async () => {
  const server = await startServer();
  servers.push(server);
  const { key, keyId } = admin(server, 'api-key', 'create', '--name', 'web-e2e');
  const app = new ServerApi(server.url, key);

  chrome ??= await launchBrowser();
  const context = await chrome.browser.newContext({ viewport: { width: 1000, height: 760 } });
  context.setDefaultTimeout(15000);
  const alice = await context.newPage();
  alice.on('pageerror', (err) => pageErrors.push(err.message));
  const { userId: aliceId } = await register(alice, server.url, 'srv_alice', 'Alice');
  const bob = await fetch(`${server.url}/api/v1/auth/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'srv_bob', password: 'correct horse battery', displayName: 'Bob' }),
  }).then((r) => r.json());

  const direct = await app.createConversation({ type: 'direct', creatorId: bob.userId, participantIds: [aliceId] });
  await app.publish(direct.conversationId, { senderId: bob.userId, messageId: 'm-1', content: { type: 'text', text: 'Hi Alice, from the app' } });
  const ack = await app.publish(direct.conversationId, { messageId: 'notice-1', content: { type: 'text', text: 'Bob joined via the help desk' } });
  assert.equal(ack.sequenceNumber, 2);

  await openConversation(alice, 'Bob');
  await waitForMessage(alice, 'Bob joined via the help desk');
  const shown = await shownMessages(alice);
  assert.deepEqual(
    shown.map((m) => [m.senderId, m.text, m.own]),
    [
      [bob.userId, 'Hi Alice, from the app', false],
      ['system', 'Bob joined via the help desk', false],
    ],
  );
  const notice = alice.locator('[data-testid=message][data-system=true]');
  assert.equal(await notice.count(), 1);
  assert.match((await notice.getAttribute('class')) ?? '', /\bsystem\b/);
  assert.equal(await notice.locator('.report').count(), 0, 'a notice is nobody to report');
  assert.equal(await notice.locator('.sender').isHidden(), true);
  // Centred in the timeline, unlike a person's message.
  const [box, list] = await Promise.all([notice.boundingBox(), alice.locator('#message-list').boundingBox()]);
  assert.ok(box && list && Math.abs(box.x + box.width / 2 - (list.x + list.width / 2)) < 4, 'centred');
  await alice.screenshot({ path: join(ARTIFACTS, 'server-api-notice.png') });

  const presence = await app.presence([aliceId, bob.userId, 'nobody']);
  assert.deepEqual(presence.presences.map((p) => [p.userId, p.status]), [[aliceId, 'online'], [bob.userId, 'offline']]);

  admin(server, 'api-key', 'revoke', keyId);
  await assert.rejects(app.presence([aliceId]), (e) => e instanceof ConfabError && e.status === 401 && e.code === 'UNAUTHORIZED');
  await context.close();
});
