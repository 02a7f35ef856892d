// End-to-end: blocking from a direct conversation's header (with confirmation), the composer's
// notice when sending is impossible or refused, the "Blocked users" list of the settings panel,
// and the group settings panel (rename, settings, promote, leave), against a real server in real
// Chromium, two or three users each in their own browser context.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, launchBrowser, artifactsDir, until, register, startDirectChat, openConversation, send, waitForMessage } from './harness.js';

const T = 90000;
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

const unique = (name) => `${name}_${Date.now().toString(36)}`;

/** The composer's notice, once it reads something matching `pattern`. */
async function noticeMatches(page, pattern) {
  await until(page, (source) => new RegExp(source).test(document.querySelector('[data-testid=composer-notice]').textContent), pattern.source);
  assert.ok(await page.getByTestId('composer-notice').isVisible());
}

/** Answers the confirmation dialog: its title must match `title`; `ok` confirms, else cancels. */
async function confirm(page, title, ok) {
  const dialog = page.getByTestId('confirm-dialog');
  await dialog.waitFor({ state: 'visible' });
  assert.match(await page.locator('#confirm-title').textContent(), title);
  await page.getByTestId(ok ? 'confirm-ok' : 'confirm-cancel').click();
  await dialog.waitFor({ state: 'hidden' });
}

before(async () => {
  server = await startServer();
  chrome = await launchBrowser();
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await chrome?.close();
  await server?.stop();
  assert.deepEqual(pageErrors, [], 'no uncaught page errors');
});

test('blocking from the header stops messages both ways until unblocked from the settings panel', { timeout: T }, async () => {
  const alice = await newPage('alice');
  const bob = await newPage('bob');
  const aliceName = unique('alice');
  const bobName = unique('bob');
  await register(alice, server.url, aliceName, 'Alice');
  await register(bob, server.url, bobName, 'Bob');
  await startDirectChat(alice, bobName, 'Bob');
  await send(alice, 'hi Bob');
  await bob.locator('[data-testid=conv-item][data-name="Alice"]').waitFor({ state: 'visible' });
  await openConversation(bob, 'Alice');
  await waitForMessage(bob, 'hi Bob');

  // Cancelling changes nothing; confirming blocks.
  const blockBtn = alice.getByTestId('block-btn');
  assert.equal(await blockBtn.textContent(), 'Block');
  await blockBtn.click();
  await confirm(alice, /^Block Bob\?$/, false);
  assert.equal(await blockBtn.textContent(), 'Block');
  await blockBtn.click();
  await confirm(alice, /^Block Bob\?$/, true);
  await until(alice, () => document.querySelector('[data-testid=block-btn]').textContent === 'Unblock');
  await noticeMatches(alice, /You blocked Bob\. Unblock them to send messages/);
  assert.ok(await alice.getByTestId('composer-input').isDisabled(), 'nothing can be typed to a blocked user');
  await alice.screenshot({ path: join(artifactsDir(), 'blocked-header.png') });

  // Bob's send is refused, and his composer says so in the server's words.
  await bob.getByTestId('composer-input').fill('hello?');
  await bob.getByTestId('composer-input').press('Enter');
  await waitForMessage(bob, 'hello?', 'failed');
  await noticeMatches(bob, /You cannot message this user\./);
  await bob.screenshot({ path: join(artifactsDir(), 'blocked-composer.png') });

  // The settings panel lists Bob; unblocking there restores both ways.
  await alice.getByRole('button', { name: 'Profile and settings' }).click();
  const settings = alice.getByTestId('settings-dialog');
  await settings.waitFor({ state: 'visible' });
  const entry = settings.locator('[data-testid=blocked-user]');
  await entry.waitFor({ state: 'visible' });
  assert.match(await entry.textContent(), new RegExp(`Bob @${bobName}`));
  await settings.getByRole('button', { name: 'Unblock Bob' }).click();
  await until(alice, () => document.querySelector('[data-testid=blocked-empty]').textContent === "You haven't blocked anyone.");
  assert.equal(await entry.count(), 0);
  await settings.getByRole('button', { name: 'Close' }).click();
  await until(alice, () => document.querySelector('[data-testid=block-btn]').textContent === 'Block');
  assert.ok(!(await alice.getByTestId('composer-notice').isVisible()), 'the notice is gone');
  assert.ok(await alice.getByTestId('composer-input').isEnabled());

  await send(bob, 'back again');
  await waitForMessage(alice, 'back again');
  // The notice clears when the send is acknowledged, which may come just after Alice sees it.
  await bob.getByTestId('composer-notice').waitFor({ state: 'hidden' });
  await send(alice, 'welcome back');
  await waitForMessage(bob, 'welcome back');
});

test('the group settings panel: rename, settings, promote and leave, seen live by the others', { timeout: T }, async () => {
  const alice = await newPage('alice');
  const bob = await newPage('bob');
  const names = { alice: unique('galice'), bob: unique('gbob') };
  await register(alice, server.url, names.alice, 'Alice');
  await register(bob, server.url, names.bob, 'Bob');
  await alice.getByTestId('new-group-btn').click();
  await alice.getByTestId('group-name').fill('Book club');
  await alice.getByTestId('people-search').fill(names.bob);
  await alice.locator(`[data-testid=people-result][data-username="${names.bob}"]`).click();
  await alice.getByTestId('people-confirm').click();
  await until(alice, () => document.getElementById('chat-title').textContent === 'Book club');
  await bob.locator('[data-testid=conv-item][data-name="Book club"]').waitFor({ state: 'visible' });
  await openConversation(bob, 'Book club');
  assert.ok(!(await alice.getByTestId('block-btn').isVisible()), 'no blocking in a group');

  // Bob, a member, sees the panel read-only.
  await bob.getByTestId('group-settings-btn').click();
  const bobPanel = bob.getByTestId('group-dialog');
  await bobPanel.waitFor({ state: 'visible' });
  assert.ok(await bob.getByTestId('group-rename').isDisabled());
  assert.ok(!(await bob.getByTestId('group-save').isVisible()));
  assert.equal(await bobPanel.locator('[data-testid=role-btn]').count(), 0);
  await bob.getByTestId('group-close').click();

  // Alice renames the group and lets only admins post.
  await alice.getByTestId('group-settings-btn').click();
  const panel = alice.getByTestId('group-dialog');
  await panel.waitFor({ state: 'visible' });
  await alice.getByTestId('group-rename').fill('Night owls');
  await alice.getByTestId('group-only-admins').check();
  await alice.getByTestId('group-save').click();
  await until(alice, () => document.querySelector('[data-testid=group-status]').textContent === 'Saved.');
  await until(bob, () => document.getElementById('chat-title').textContent === 'Night owls');
  await alice.screenshot({ path: join(artifactsDir(), 'group-settings.png') });

  await bob.getByTestId('composer-input').fill('may I?');
  await bob.getByTestId('composer-input').press('Enter');
  await waitForMessage(bob, 'may I?', 'failed');
  await noticeMatches(bob, /Only admins can post in this group\./);

  // Alice makes Bob an admin: his panel turns editable while open.
  await bob.getByTestId('group-settings-btn').click();
  await bobPanel.waitFor({ state: 'visible' });
  const bobRow = panel.locator(`[data-testid=group-member][data-role=member]`);
  await bobRow.getByRole('button', { name: 'Make admin' }).click();
  await until(alice, () => document.querySelectorAll('[data-testid=group-member][data-role=admin]').length === 2);
  await until(bob, () => !document.querySelector('[data-testid=group-rename]').disabled);
  assert.equal(await bobPanel.locator('[data-testid=role-btn]').count(), 2);
  await bob.getByTestId('group-close').click();
  await send(bob, 'thanks!');
  await waitForMessage(alice, 'thanks!');

  // Alice steps down (Bob remains admin), then Bob, the last admin, cannot.
  await panel.locator('[data-testid=group-member]', { hasText: 'You' }).getByRole('button', { name: 'Step down' }).click();
  await until(alice, () => document.querySelector('[data-testid=group-rename]').disabled);
  await bob.getByTestId('group-settings-btn').click();
  await bobPanel.locator('[data-testid=group-member]', { hasText: 'You' }).getByRole('button', { name: 'Step down' }).click();
  await until(bob, () => /last admin cannot step down/.test(document.querySelector('[data-testid=group-error]').textContent));

  // Bob leaves (after confirming): the group disappears from his list; Alice sees one member.
  await bob.getByTestId('group-leave').click();
  await confirm(bob, /^Leave Night owls\?$/, true);
  await bob.locator('[data-testid=conv-item][data-name="Night owls"]').waitFor({ state: 'detached' });
  await bobPanel.waitFor({ state: 'hidden' });
  await until(alice, () => document.getElementById('group-members-heading').textContent === 'Members (1)');
});
