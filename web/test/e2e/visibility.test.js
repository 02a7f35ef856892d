// End-to-end: what is shown and what is not at desktop and phone widths (visibility, not just
// presence, so a style that overrides `hidden` fails here), long previews in the sidebar, the
// favicon (no page asks for a missing file), and the sign-up form's one failed rule.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, launchBrowser, artifactsDir, until, register, startDirectChat, send } from './harness.js';

const T = 90000;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
let server;
let chrome;
const contexts = [];
const pageErrors = [];
const notFound = [];
const stamp = Date.now().toString(36);

async function newPage(label, viewport = DESKTOP) {
  const context = await chrome.browser.newContext({ viewport });
  context.setDefaultTimeout(15000);
  contexts.push(context);
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${label}: ${err.message}`));
  page.on('response', (r) => r.status() === 404 && notFound.push(`${label}: ${r.url()}`));
  return page;
}

/** A user of their own, signed in, at this viewport. */
async function newUser(label, displayName, viewport = DESKTOP) {
  const page = await newPage(label, viewport);
  const username = `${label}_${stamp}`;
  await register(page, server.url, username, displayName);
  return { page, username, displayName };
}

async function visible(page, testid) {
  return page.getByTestId(testid).isVisible();
}

let alice;
before(async () => {
  server = await startServer();
  chrome = await launchBrowser();
  alice = await newUser('alice', 'Alice Liddell');
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await chrome?.close();
  await server?.stop();
});

for (const [width, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
  test(`${width}: hidden controls are not visible, shown ones are; a long preview keeps its time in view`, { timeout: T }, async () => {
    const page = await newPage(`vis-${width}`, viewport);
    await page.goto(server.url + '/');
    // Sign in: no display name, no password hint. Register: both.
    assert.equal(await visible(page, 'auth-displayname'), false, 'display name shown on Sign in');
    assert.equal(await visible(page, 'auth-password-hint'), false, 'password hint shown on Sign in');
    assert.equal(await visible(page, 'auth-notice'), false, 'empty notice shown');
    assert.equal(await visible(page, 'auth-error'), false, 'empty error shown');
    await page.getByTestId('auth-toggle').click();
    assert.equal(await visible(page, 'auth-displayname'), true, 'display name missing on Register');
    assert.equal(await visible(page, 'auth-password-hint'), true, 'password hint missing on Register');
    await page.getByTestId('auth-toggle').click();
    assert.equal(await visible(page, 'auth-displayname'), false, 'display name shown after going back to Sign in');

    const me = `vis_${width}_${stamp}`;
    await register(page, server.url, me, `Vis ${width}`);
    // Nothing yet: the hint names a + that every font has.
    const empty = page.locator('#conv-empty');
    assert.equal(await empty.isVisible(), true);
    assert.doesNotMatch(await empty.textContent(), /\uFF0B/);
    assert.doesNotMatch(await page.getByTestId('new-chat-btn').innerHTML(), /\uFF0B/);

    // New chat (1:1): no group name; New group: a group name.
    await page.getByTestId('new-chat-btn').click();
    assert.equal(await page.getByTestId('people-dialog').isVisible(), true);
    assert.equal(await visible(page, 'group-name'), false, 'group name shown in the 1:1 New chat dialog');
    assert.equal(await visible(page, 'people-confirm'), false, 'Create shown for a 1:1 chat');
    await page.keyboard.press('Escape');
    await until(page, () => !document.getElementById('people-dialog').open);
    await page.getByTestId('new-group-btn').click();
    assert.equal(await visible(page, 'group-name'), true, 'group name missing in New group');
    assert.equal(await visible(page, 'people-confirm'), true);
    await page.getByTestId('people-cancel').click();

    // A direct chat: no "Add members", no "Group settings"; "Block" shown; the back arrow only on a phone.
    await startDirectChat(page, alice.username, alice.displayName);
    assert.equal(await visible(page, 'add-members-btn'), false, '"Add members" shown in a direct chat');
    assert.equal(await visible(page, 'group-settings-btn'), false, '"Group settings" shown in a direct chat');
    assert.equal(await visible(page, 'block-btn'), true);
    assert.equal(await visible(page, 'back-btn'), width === 'phone', `back arrow visibility at ${width} width`);
    assert.equal(await visible(page, 'composer-notice'), false, 'empty composer notice shown');

    // A long preview is cut with an ellipsis; the time stays inside the sidebar.
    await send(page, 'A very long message that goes on and on '.repeat(8) + 'Supercalifragilisticexpialidocious'.repeat(4));
    if (width === 'phone') await page.getByTestId('back-btn').click();
    const item = page.locator('[data-testid=conv-item]').first();
    await until(page, () => document.querySelector('.conv-time')?.textContent !== '');
    const sidebar = await page.locator('.sidebar').boundingBox();
    const time = await item.locator('.conv-time').boundingBox();
    const last = await item.locator('[data-testid=conv-last]').boundingBox();
    const name = await item.locator('[data-testid=conv-name]').boundingBox();
    assert.equal(await item.locator('.conv-time').isVisible(), true, 'time not visible');
    for (const [label, box] of [['time', time], ['preview', last], ['name', name]]) {
      assert.ok(box.x >= sidebar.x && box.x + box.width <= sidebar.x + sidebar.width + 0.5, `${label} sticks out of the sidebar: ${JSON.stringify({ box, sidebar })}`);
    }
    assert.ok(name.x + name.width <= time.x, 'the name runs over the time');
    assert.ok(await item.locator('[data-testid=conv-last]').evaluate((el) => el.scrollWidth > el.clientWidth && getComputedStyle(el).textOverflow === 'ellipsis'), 'no ellipsis');
    await page.screenshot({ path: join(artifactsDir(), `${width}-long-preview.png`) });
  });
}

test('the sign-up form names the one rule that failed', { timeout: T }, async () => {
  const page = await newPage('rules');
  await page.goto(server.url + '/');
  await page.getByTestId('auth-toggle').click();
  const error = page.getByTestId('auth-error');
  await page.getByTestId('auth-username').fill('ok_name');
  await page.getByTestId('auth-password').fill('short');
  await page.getByTestId('auth-submit').click();
  assert.equal(await error.textContent(), 'Passwords need at least 8 characters.');
  assert.equal(await error.isVisible(), true);
  await page.getByTestId('auth-username').fill('a');
  await page.getByTestId('auth-password').fill('long enough words');
  await page.getByTestId('auth-submit').click();
  assert.equal(await error.textContent(), 'Usernames have 3–32 letters, digits, _ . or -.');
  // The server's rule for a weak password, as it names it.
  await page.getByTestId('auth-username').fill(`rules_${stamp}`);
  await page.getByTestId('auth-password').fill('password1');
  await page.getByTestId('auth-submit').click();
  await until(page, () => /^Password is too easy to guess/.test(document.querySelector('[data-testid=auth-error]').textContent));
  assert.doesNotMatch(await error.textContent(), /8 characters|Usernames/);
});

test('the favicon is served, linked, and /favicon.ico answers', async () => {
  for (const path of ['/favicon.ico', '/favicon.svg', '/favicon-unread.svg']) {
    const response = await fetch(server.url + path);
    assert.equal(response.status, 200, path);
    assert.equal(response.headers.get('content-type'), 'image/svg+xml', path);
    assert.match(await response.text(), /^<svg /, path);
  }
});

test('no script errors and no missing files in any page', () => {
  assert.deepEqual(pageErrors, []);
  assert.deepEqual(notFound, []);
});
