// End-to-end: reporting a message from the chat, the administration panel (counts, open reports,
// resolving, banning and unbanning from the user search) and the "account suspended" screen, against
// a real server with an administrator, in real Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, launchBrowser, artifactsDir, until, register, startDirectChat, send, waitForMessage } from './harness.js';

const T = 90000;
const PASSWORD = 'correct horse battery'; // the harness registers with this one
let server;
let chrome;
const contexts = [];
const pageErrors = [];

async function newPage(label, viewport = { width: 1280, height: 800 }) {
  const context = await chrome.browser.newContext({ viewport });
  context.setDefaultTimeout(15000);
  contexts.push(context);
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${label}: ${err.message}`));
  return page;
}

async function signIn(page, username) {
  await page.goto(server.url + '/');
  await page.getByTestId('auth-username').fill(username);
  await page.getByTestId('auth-password').fill(PASSWORD);
  await page.getByTestId('auth-submit').click();
}

before(async () => {
  server = await startServer({ extraArgs: ['--admin-users', 'root'] });
  chrome = await launchBrowser();
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await chrome?.close();
  await server?.stop();
  assert.deepEqual(pageErrors, [], 'no uncaught page errors');
});

test('a member reports a message; an administrator resolves it, bans and unbans its sender', { timeout: T }, async () => {
  const alice = await newPage('alice');
  const bob = await newPage('bob');
  const root = await newPage('root');
  await register(alice, server.url, 'alice', 'Alice');
  await register(bob, server.url, 'bob', 'Bob');
  await startDirectChat(alice, 'bob', 'Bob');
  await send(alice, 'you are awful');

  // Bob reports Alice's message from the chat.
  await bob.locator('[data-testid=conv-item][data-name="Alice"]').click();
  await waitForMessage(bob, 'you are awful');
  assert.ok(!(await bob.getByTestId('admin-btn').isVisible()), 'no administration for members');
  const message = bob.locator('[data-testid=message]', { hasText: 'you are awful' });
  await message.getByRole('button', { name: 'Report this message' }).click();
  const dialog = bob.getByTestId('report-dialog');
  await dialog.waitFor({ state: 'visible' });
  assert.equal(await bob.getByTestId('report-quote').textContent(), 'you are awful');
  await dialog.getByRole('button', { name: 'Report' }).click();
  await bob.getByTestId('report-error').waitFor({ state: 'visible' });
  await dialog.getByLabel('Why are you reporting it?').fill('insulting me');
  await dialog.getByRole('button', { name: 'Report' }).click();
  await until(bob, () => /Thank you/.test(document.querySelector('[data-testid=report-status]').textContent));
  await dialog.getByRole('button', { name: 'Close' }).click();
  // One's own messages have no Report action.
  await send(bob, 'my own words');
  assert.equal(await bob.locator('[data-testid=message]', { hasText: 'my own words' }).getByTestId('message-report').count(), 0);

  // The administrator sees the report with the message, and resolves it.
  await register(root, server.url, 'root', 'Root');
  await root.getByTestId('admin-btn').waitFor({ state: 'visible' });
  await root.getByRole('button', { name: 'Administration' }).click();
  const panel = root.getByTestId('admin-dialog');
  await panel.waitFor({ state: 'visible' });
  await until(root, () => document.querySelector('[data-stat="Open reports"]')?.textContent === '1');
  const report = panel.getByTestId('admin-report');
  await report.waitFor({ state: 'visible' });
  assert.match(await report.textContent(), /you are awful/);
  assert.match(await report.textContent(), /insulting me/);
  await root.screenshot({ path: join(artifactsDir(), 'moderation-admin-panel.png') });
  await report.getByLabel('Resolution').fill('warned alice');
  await report.getByRole('button', { name: 'Resolve' }).click();
  await until(root, () => /No open reports/.test(document.querySelector('[data-testid=admin-reports]').textContent));
  await until(root, () => document.querySelector('[data-stat="Open reports"]')?.textContent === '0');

  // Banning Alice from the user search suspends her open session at once.
  await panel.getByLabel('Find users').fill('ali');
  const row = panel.locator('[data-testid=admin-user][data-username=alice]');
  await row.waitFor({ state: 'visible' });
  await row.getByLabel('Reason for banning alice').fill('harassment');
  await row.getByRole('button', { name: 'Ban' }).click();
  await panel.locator('[data-testid=admin-user][data-username=alice][data-banned=true]').waitFor({ state: 'visible' });
  await until(root, () => document.querySelector('[data-stat="Banned users"]')?.textContent === '1');
  await alice.getByTestId('suspended').waitFor({ state: 'visible' });
  assert.equal(await alice.getByTestId('suspended-reason').textContent(), 'harassment');
  assert.match(await alice.getByTestId('suspended-until').textContent(), /until an administrator lifts it/);
  await alice.screenshot({ path: join(artifactsDir(), 'moderation-suspended.png') });
  // Signing in again shows the same screen.
  await alice.getByTestId('suspended-back').click();
  await signIn(alice, 'alice');
  await alice.getByTestId('suspended').waitFor({ state: 'visible' });
  // Administrators are never offered a ban.
  await panel.getByLabel('Find users').fill('root');
  await panel.locator('[data-testid=admin-user][data-username=root]').waitFor({ state: 'visible' });
  assert.equal(await panel.locator('[data-testid=admin-user][data-username=root] [data-testid=admin-ban]').count(), 0);

  // Unbanned, she signs in again.
  await panel.getByLabel('Find users').fill('ali');
  await panel.locator('[data-testid=admin-user][data-username=alice] [data-testid=admin-unban]').click();
  await panel.locator('[data-testid=admin-user][data-username=alice][data-banned=false]').waitFor({ state: 'visible' });
  await alice.getByTestId('suspended-back').click();
  await signIn(alice, 'alice');
  await alice.locator('[data-testid=conn-status][data-state=online]').waitFor({ state: 'attached' });
});

test('the administration panel fits a phone', { timeout: T }, async () => {
  const phone = await newPage('root-phone', { width: 390, height: 844 });
  await signIn(phone, 'root');
  await phone.getByTestId('admin-btn').waitFor({ state: 'visible' });
  await phone.getByTestId('admin-btn').click();
  const panel = phone.getByTestId('admin-dialog');
  await panel.waitFor({ state: 'visible' });
  for (const control of [panel.getByLabel('Find users'), panel.getByRole('button', { name: 'Close' })]) {
    const box = await control.boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 390, 'within the viewport width');
  }
});

test('an administrator deletes a reported message for everyone from the panel', { timeout: T }, async () => {
  const carol = await newPage('carol');
  const dave = await newPage('dave');
  await register(carol, server.url, 'carol', 'Carol');
  await register(dave, server.url, 'dave', 'Dave');
  await startDirectChat(carol, 'dave', 'Dave');
  await send(carol, 'buy cheap pills');
  await dave.locator('[data-testid=conv-item][data-name="Carol"]').click();
  await waitForMessage(dave, 'buy cheap pills');
  const message = dave.locator('[data-testid=message]', { hasText: 'buy cheap pills' });
  await message.getByRole('button', { name: 'Report this message' }).click();
  const dialog = dave.getByTestId('report-dialog');
  await dialog.getByLabel('Why are you reporting it?').fill('spam');
  await dialog.getByRole('button', { name: 'Report' }).click();
  await until(dave, () => /Thank you/.test(document.querySelector('[data-testid=report-status]').textContent));
  await dialog.getByRole('button', { name: 'Close' }).click();

  const root = await newPage('root-desk');
  await signIn(root, 'root');
  await root.getByTestId('admin-btn').waitFor({ state: 'visible' });
  await root.getByTestId('admin-btn').click();
  const panel = root.getByTestId('admin-dialog');
  const report = panel.getByTestId('admin-report');
  await report.waitFor({ state: 'visible' });
  assert.match(await report.textContent(), /buy cheap pills/);
  await report.getByRole('button', { name: 'Delete message' }).click();
  await until(root, () => /No open reports/.test(document.querySelector('[data-testid=admin-reports]').textContent));
  // Both members see the tombstone where the text was.
  for (const page of [carol, dave]) {
    await until(page, () =>
      [...document.querySelectorAll('[data-testid=message]')].some((m) => /This message was deleted/.test(m.textContent)),
    );
    assert.equal(await page.locator('[data-testid=message]', { hasText: 'buy cheap pills' }).count(), 0);
  }
});
