// End-to-end: disappearing messages in the web client (the composer's timer, the countdown, the
// tombstone on both sides at expiry, still a tombstone after a reload) and a group's retention
// setting.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  startServer,
  launchBrowser,
  artifactsDir,
  until,
  waitForMessage,
  register,
  startDirectChat,
  openConversation,
  send,
} from './harness.js';

const T = 90000;
let server;
let chrome;
const contexts = [];
const pageErrors = [];

async function newPage(name) {
  const context = await chrome.browser.newContext({ viewport: { width: 1280, height: 800 } });
  contexts.push(context);
  context.setDefaultTimeout(15000);
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${name}: ${err.message}`));
  return page;
}

const unique = (/** @type {string} */ name) => `${name}_${Date.now().toString(36)}`;

/** Whether the message that said `text` (by its id, recorded before it vanished) is a tombstone. */
function tombstoned(page, id) {
  return until(
    page,
    (id) => {
      const el = document.querySelector(`[data-testid=message][data-message-id="${id}"]`);
      return el?.dataset.deleted === 'true' && el.querySelector('[data-testid=message-text]').textContent === 'This message disappeared';
    },
    id,
    20000,
  );
}

before(async () => {
  server = await startServer({ extraArgs: ['--sweep-interval-ms', '500'] });
  chrome = await launchBrowser();
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await chrome?.close();
  await server?.stop();
  assert.deepEqual(pageErrors, []);
});

test('a disappearing message counts down and turns into a tombstone for both, also after a reload', { timeout: T }, async () => {
  const alice = await newPage('alice');
  const bob = await newPage('bob');
  const names = { alice: unique('xalice'), bob: unique('xbob') };
  await register(alice, server.url, names.alice, 'Alice');
  await register(bob, server.url, names.bob, 'Bob');
  await startDirectChat(alice, names.bob, 'Bob');
  await send(alice, 'an ordinary message');
  await openConversation(bob, 'Alice');
  await waitForMessage(bob, 'an ordinary message');

  // Alice picks the 5-second timer: the message shows its countdown on both sides.
  await alice.getByTestId('composer-timer').selectOption('5');
  await send(alice, 'this will self-destruct');
  await waitForMessage(bob, 'this will self-destruct');
  const id = await alice
    .locator('[data-testid=message]', { hasText: 'this will self-destruct' })
    .getAttribute('data-message-id');
  for (const page of [alice, bob]) {
    const badge = page.locator(`[data-testid=message][data-message-id="${id}"] [data-testid=message-expires]`);
    await badge.waitFor();
    assert.match(await badge.textContent(), /^⏱ \d+s$/);
  }
  await alice.screenshot({ path: join(artifactsDir(), 'disappearing.png') });

  // At expiry both show a tombstone in its place; the ordinary message stays.
  await tombstoned(alice, id);
  await tombstoned(bob, id);
  await waitForMessage(bob, 'an ordinary message');

  // After a reload (history from the server, the local copy from IndexedDB), still a tombstone.
  await bob.reload();
  await bob.locator('[data-testid=conn-status][data-state=online]').waitFor({ state: 'attached' });
  await openConversation(bob, 'Alice');
  await tombstoned(bob, id);
  const text = await bob.evaluate(() => document.getElementById('message-list').textContent);
  assert.ok(!text.includes('self-destruct'), 'nothing of what it said is shown');

  // The timer stays chosen; turning it off sends ordinary messages again.
  await alice.getByTestId('composer-timer').selectOption('');
  await send(alice, 'to keep');
  const kept = alice.locator('[data-testid=message]', { hasText: 'to keep' });
  assert.equal(await kept.getByTestId('message-expires').count(), 0);
});

test("an admin sets a group's retention in the group settings", { timeout: T }, async () => {
  const alice = await newPage('alice');
  const bob = await newPage('bob');
  const names = { alice: unique('ralice'), bob: unique('rbob') };
  await register(alice, server.url, names.alice, 'Alice');
  await register(bob, server.url, names.bob, 'Bob');
  await alice.getByTestId('new-group-btn').click();
  await alice.getByTestId('group-name').fill('Short memory');
  await alice.getByTestId('people-search').fill(names.bob);
  await alice.locator(`[data-testid=people-result][data-username="${names.bob}"]`).click();
  await alice.getByTestId('people-confirm').click();
  await until(alice, () => document.getElementById('chat-title').textContent === 'Short memory');

  await alice.getByTestId('group-settings-btn').click();
  await alice.getByTestId('group-dialog').waitFor({ state: 'visible' });
  assert.equal(await alice.getByTestId('group-retention').inputValue(), '0');
  await alice.getByTestId('group-retention').fill('30');
  await alice.getByTestId('group-save').click();
  await until(alice, () => document.querySelector('[data-testid=group-status]').textContent === 'Saved.');

  // Bob, a member, sees it read-only.
  await bob.locator('[data-testid=conv-item][data-name="Short memory"]').waitFor({ state: 'visible' });
  await openConversation(bob, 'Short memory');
  await bob.getByTestId('group-settings-btn').click();
  await bob.getByTestId('group-dialog').waitFor({ state: 'visible' });
  await until(bob, () => document.querySelector('[data-testid=group-retention]').value === '30');
  assert.ok(await bob.getByTestId('group-retention').isDisabled());

  // Out of range: the form refuses it before anything is sent; nothing changes.
  await alice.getByTestId('group-retention').fill('40000');
  await alice.getByTestId('group-save').click();
  assert.ok(await alice.getByTestId('group-retention').evaluate((el) => el.validity.rangeOverflow));
  await until(bob, () => document.querySelector('[data-testid=group-retention]').value === '30');
});
