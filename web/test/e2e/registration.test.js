// End-to-end: the sign-up form follows the server's registration mode: an invite code field on an
// invite-only server (a code from `confab admin invite create` works once, a used one is refused
// with the server's reason), and no sign-up at all on a closed one.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startServer, launchBrowser, serverBinary } from './harness.js';

const T = 60000;
const servers = [];
let chrome;
const pageErrors = [];

after(async () => {
  await chrome?.close();
  for (const s of servers) await s.stop();
  assert.deepEqual(pageErrors, []);
});

async function page() {
  chrome ??= await launchBrowser();
  const context = await chrome.browser.newContext({ viewport: { width: 1000, height: 760 } });
  context.setDefaultTimeout(15000);
  const p = await context.newPage();
  p.on('pageerror', (err) => pageErrors.push(err.message));
  return p;
}

async function signUp(p, username, invite) {
  await p.getByTestId('auth-toggle').click();
  await p.getByTestId('auth-username').fill(username);
  if (invite !== undefined) await p.getByTestId('auth-invite').fill(invite);
  await p.getByTestId('auth-password').fill('correct horse battery');
  await p.getByTestId('auth-submit').click();
}

test('an invite-only server asks for a code, admits its holder once, and says why a used code fails', { timeout: T }, async () => {
  const server = await startServer({ extraArgs: ['--registration', 'invite'] });
  servers.push(server);
  const made = spawnSync(serverBinary(), ['admin', '--data-dir', server.dataDir, 'invite', 'create', '--uses', '1'], {
    encoding: 'utf8',
  });
  assert.equal(made.status, 0, made.stderr);
  const { code } = JSON.parse(made.stdout);

  const alice = await page();
  await alice.goto(server.url + '/');
  await alice.getByTestId('auth-toggle').click();
  await alice.getByTestId('auth-invite').waitFor({ state: 'visible' });
  await alice.getByTestId('auth-toggle').click();
  // Without a code the form says what is missing before anything is sent.
  await signUp(alice, 'inv_alice', '');
  await alice.getByTestId('auth-error').waitFor({ state: 'visible' });
  assert.match(await alice.getByTestId('auth-error').textContent(), /invite only/);
  await alice.getByTestId('auth-invite').fill(code);
  await alice.getByTestId('auth-submit').click();
  await alice.locator('[data-testid=conn-status][data-state=online]').waitFor({ state: 'attached' });

  const bob = await page();
  await bob.goto(server.url + '/');
  await signUp(bob, 'inv_bob', code);
  await bob.getByTestId('auth-error').waitFor({ state: 'visible' });
  assert.match(await bob.getByTestId('auth-error').textContent(), /invite code is not valid/);
});

test('a closed server offers no sign-up', { timeout: T }, async () => {
  const server = await startServer({ extraArgs: ['--registration', 'closed'] });
  servers.push(server);
  const p = await page();
  await p.goto(server.url + '/');
  await p.waitForFunction(() => document.getElementById('auth-toggle')?.hidden === true);
  assert.match(await p.locator('#auth-switch-text').textContent(), /does not take new sign-ups/);
  assert.equal(await p.locator('#auth-heading').textContent(), 'Sign in');
});
