// End-to-end: the profile and settings panel against a real server in real Chromium: editing the
// display name, changing the password (the server's rule error, then success, which signs out the
// user's other browser), and signing out everywhere.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, launchBrowser, artifactsDir, until, register, startDirectChat } from './harness.js';

const T = 60000;
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

/** Signs in through the sign-in form and waits for the chat to be online. */
async function signIn(page, username, password = PASSWORD) {
  await page.goto(server.url + '/');
  await page.getByTestId('auth-username').fill(username);
  await page.getByTestId('auth-password').fill(password);
  await page.getByTestId('auth-submit').click();
  await page.locator('[data-testid=conn-status][data-state=online]').waitFor({ state: 'attached' });
}

/** Opens the settings panel from the sidebar header and checks its controls are visible. */
async function openSettings(page) {
  await page.getByRole('button', { name: 'Profile and settings' }).click();
  const dialog = page.getByTestId('settings-dialog');
  await dialog.waitFor({ state: 'visible' });
  for (const control of [
    dialog.getByLabel('Display name'),
    dialog.getByLabel('Current password'),
    dialog.getByLabel('New password'),
    dialog.getByRole('button', { name: 'Save name' }),
    dialog.getByRole('button', { name: 'Change password' }),
    dialog.getByRole('button', { name: 'Sign out', exact: true }),
    dialog.getByRole('button', { name: 'Sign out everywhere' }),
  ]) {
    assert.ok(await control.isVisible(), `${await control.evaluate((el) => el.outerHTML.slice(0, 80))} is visible`);
    const box = await control.boundingBox();
    const { width } = page.viewportSize();
    assert.ok(box && box.x >= 0 && box.x + box.width <= width, 'within the viewport width');
  }
  return dialog;
}

/** Waits for the sign-in screen with a notice matching `notice`. */
async function signedOutWith(page, notice) {
  await page.getByTestId('auth-form').waitFor({ state: 'visible' });
  const shown = page.getByTestId('auth-notice');
  await shown.waitFor({ state: 'visible' });
  assert.match(await shown.textContent(), notice);
}

const unique = (name) => `${name}_${Date.now().toString(36)}`;

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

test('a new display name shows in the header and, after a reload, to the other user', { timeout: T }, async () => {
  const alice = await newPage('alice');
  const bob = await newPage('bob');
  const aliceName = unique('alice');
  const bobName = unique('bob');
  await register(alice, server.url, aliceName, 'Alice Liddell');
  await register(bob, server.url, bobName, 'Bob Builder');
  await startDirectChat(alice, bobName, 'Bob Builder');
  const aliceOnBob = bob.locator('[data-testid=conv-item][data-name="Alice Liddell"]');
  await aliceOnBob.waitFor({ state: 'visible' });

  const dialog = await openSettings(alice);
  assert.equal(await dialog.getByLabel('Display name').inputValue(), 'Alice Liddell');
  await dialog.getByLabel('Display name').fill('Alice Pleasance');
  await dialog.getByRole('button', { name: 'Save name' }).click();
  await until(alice, () => document.querySelector('[data-testid=profile-status]').textContent === 'Name saved.');
  await until(alice, () => document.querySelector('[data-testid=me-name]').textContent === 'Alice Pleasance');
  await dialog.getByRole('button', { name: 'Close' }).click();
  await dialog.waitFor({ state: 'hidden' });
  assert.ok(await alice.getByTestId('me-name').isVisible());

  await bob.reload();
  await bob.locator('[data-testid=conv-item][data-name="Alice Pleasance"]').waitFor({ state: 'visible' });
  // Alice's other page (a reload) starts with the new name too.
  await alice.reload();
  await until(alice, () => document.querySelector('[data-testid=me-name]')?.textContent === 'Alice Pleasance');
});

test('changing the password: the rule error, then success signs out the other browser only', { timeout: T }, async () => {
  const here = await newPage('carol-here');
  const there = await newPage('carol-there');
  const carol = unique('carol');
  await register(here, server.url, carol, 'Carol');
  await signIn(there, carol);

  const dialog = await openSettings(here);
  await dialog.getByLabel('Current password').fill(PASSWORD);
  await dialog.getByLabel('New password').fill('12345678');
  await dialog.getByRole('button', { name: 'Change password' }).click();
  const error = here.getByTestId('password-error');
  await error.waitFor({ state: 'visible' });
  assert.match(await error.textContent(), /too easy to guess/i);

  await dialog.getByLabel('Current password').fill('not my password');
  await dialog.getByLabel('New password').fill('violet tractor moonbeam');
  await dialog.getByRole('button', { name: 'Change password' }).click();
  await until(here, () => /wrong/.test(document.querySelector('[data-testid=password-error]').textContent));
  assert.ok(await error.isVisible());
  assert.equal(await here.locator('[data-testid=conn-status]').getAttribute('data-state'), 'online', 'a wrong password signs nobody out');

  await dialog.getByLabel('Current password').fill(PASSWORD);
  await dialog.getByLabel('New password').fill('violet tractor moonbeam');
  await dialog.getByRole('button', { name: 'Change password' }).click();
  const status = here.getByTestId('password-status');
  await until(here, () => /Password changed/.test(document.querySelector('[data-testid=password-status]').textContent));
  assert.ok(await status.isVisible());
  assert.ok(!(await error.isVisible()));

  // The other browser's socket is closed with 4003: back to the sign-in screen, saying why.
  await signedOutWith(there, /revoked/);
  assert.equal(await there.evaluate(() => localStorage.getItem('confab.session')), null);

  // This one stays signed in: still online, and its REST calls still work.
  await dialog.getByRole('button', { name: 'Close' }).click();
  assert.equal(await here.locator('[data-testid=conn-status]').getAttribute('data-state'), 'online');
  const me = await here.evaluate(() => window.confab.api('GET', '/users/me'));
  assert.equal(me.username, carol);
  await here.reload();
  await here.locator('[data-testid=conn-status][data-state=online]').waitFor({ state: 'attached' });
  await here.getByTestId('me-name').waitFor({ state: 'visible' });

  // The new password signs in; the old one no longer does.
  await there.getByTestId('auth-username').fill(carol);
  await there.getByTestId('auth-password').fill(PASSWORD);
  await there.getByTestId('auth-submit').click();
  await there.getByTestId('auth-error').waitFor({ state: 'visible' });
  await signIn(there, carol, 'violet tractor moonbeam');
});

test('"Sign out everywhere" at phone width signs out the other browser too', { timeout: T }, async () => {
  const phone = await newPage('dave-phone', { width: 390, height: 844 });
  const desktop = await newPage('dave-desktop');
  const dave = unique('dave');
  await register(phone, server.url, dave, 'Dave');
  await signIn(desktop, dave);

  const dialog = await openSettings(phone);
  await phone.screenshot({ path: join(artifactsDir(), 'settings-phone.png') });
  await dialog.getByRole('button', { name: 'Sign out everywhere' }).click();
  await signedOutWith(phone, /every device/);
  await signedOutWith(desktop, /revoked/);
  assert.equal(await desktop.evaluate(() => localStorage.getItem('confab.session')), null);

  // "Sign out" signs out this browser only.
  await signIn(phone, dave);
  await signIn(desktop, dave);
  const d = await openSettings(desktop);
  await d.getByRole('button', { name: 'Sign out', exact: true }).click();
  await desktop.getByTestId('auth-form').waitFor({ state: 'visible' });
  assert.equal(await phone.locator('[data-testid=conn-status]').getAttribute('data-state'), 'online');
  await phone.evaluate(() => window.confab.api('GET', '/users/me'));
});

test('hiding "last seen": the other user sees just "offline", and sees it again once shown', { timeout: T }, async () => {
  const alice = await newPage('alice');
  const bob = await newPage('bob');
  const aliceName = unique('alice');
  const bobName = unique('bob');
  await register(alice, server.url, aliceName, 'Alice Liddell');
  await register(bob, server.url, bobName, 'Bob Builder');
  await startDirectChat(alice, bobName, 'Bob Builder');
  const status = alice.getByTestId('chat-status');

  const dialog = await openSettings(bob);
  const toggle = dialog.getByLabel('Show when I was last seen');
  await until(bob, () => !document.querySelector('[data-testid=settings-show-last-seen]').disabled);
  assert.equal(await toggle.isChecked(), true, 'shown by default');
  await toggle.uncheck();
  await until(bob, () => document.querySelector('[data-testid=profile-status]').textContent === 'Last seen hidden.');
  await bob.close();
  await until(alice, () => document.querySelector('[data-testid=chat-status]').textContent === 'offline');
  assert.doesNotMatch(await status.textContent(), /last seen/);

  // Bob's setting is kept: a new page of his shows it off; turning it on shows Alice when he was seen.
  const bobAgain = await newPage('bob again');
  await signIn(bobAgain, bobName);
  await until(alice, () => /^(online|away)$/.test(document.querySelector('[data-testid=chat-status]').textContent));
  const again = await openSettings(bobAgain);
  const toggleAgain = again.getByLabel('Show when I was last seen');
  await until(bobAgain, () => !document.querySelector('[data-testid=settings-show-last-seen]').disabled);
  assert.equal(await toggleAgain.isChecked(), false, 'kept off');
  await toggleAgain.check();
  await until(bobAgain, () => document.querySelector('[data-testid=profile-status]').textContent === 'Last seen shown.');
  await bobAgain.close();
  await until(alice, () => /^last seen/.test(document.querySelector('[data-testid=chat-status]').textContent));
});
