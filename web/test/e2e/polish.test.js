// End-to-end: links in messages, date separators, the unread divider, the unread total in the
// title and favicon, the live region for new messages, and keyboard shortcuts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, launchBrowser, artifactsDir, until, register, startDirectChat, openConversation, send, waitForMessage } from './harness.js';

const T = 90000;
const DESKTOP = { width: 1280, height: 800 };
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

test('links in messages are links; markup and javascript: stay inert text', { timeout: T }, async () => {
  const bob = await newUser('links', 'Link Bob');
  await startDirectChat(bob.page, alice.username, alice.displayName);
  const text = 'look https://example.org/a?b=1 and <img src=x onerror="window.__pwned=1"> or javascript:window.__pwned=2 (mailto:a@example.org).';
  await send(bob.page, text);
  await openConversation(alice.page, bob.displayName);
  await waitForMessage(alice.page, text);
  for (const page of [alice.page, bob.page]) {
    const shown = page.locator('[data-testid=message-text]').filter({ hasText: 'look https' });
    assert.equal(await shown.textContent(), text, 'the text is shown as typed');
    const links = await shown.locator('a').evaluateAll((as) => as.map((a) => [a.getAttribute('href'), a.rel, a.target, a.textContent]));
    assert.deepEqual(links, [
      ['https://example.org/a?b=1', 'noopener noreferrer', '_blank', 'https://example.org/a?b=1'],
      ['mailto:a@example.org', 'noopener noreferrer', '_blank', 'mailto:a@example.org'],
    ]);
    assert.equal(await shown.locator('img').count(), 0, 'markup became an element');
    assert.equal(await page.evaluate(() => window.__pwned), undefined, 'user text ran script');
  }
  await alice.page.screenshot({ path: join(artifactsDir(), 'desktop-links.png') });
});

test('unread: title and favicon count, the divider, opening at the first unread, then read', { timeout: T }, async () => {
  const carol = await newUser('unread', 'Carol Unread', { width: 1280, height: 600 });
  await startDirectChat(carol.page, alice.username, alice.displayName);
  await send(carol.page, 'hello before');
  await openConversation(alice.page, carol.displayName);
  await waitForMessage(alice.page, 'hello before');
  // Carol leaves the conversation; Alice writes enough to fill more than a screen.
  await carol.page.keyboard.press('Escape');
  await until(carol.page, () => document.getElementById('chat-view').hidden);
  assert.equal(await carol.page.title(), 'Confab');
  assert.equal(await carol.page.locator('#favicon').getAttribute('href'), '/favicon.svg');
  const count = 25;
  for (let i = 1; i <= count; i++) await send(alice.page, `unread number ${i}`);
  await until(carol.page, (n) => document.title === `(${n}) Confab`, count);
  assert.equal(await carol.page.locator('#favicon').getAttribute('href'), '/favicon-unread.svg');

  await openConversation(carol.page, alice.displayName);
  const divider = carol.page.getByTestId('unread-divider');
  await divider.waitFor();
  assert.equal(await divider.textContent(), `${count} unread messages`);
  // The divider comes right before the first unread message, and the view opens there.
  const next = await divider.evaluate((el) => el.nextElementSibling.querySelector('[data-testid=message-text]').textContent);
  assert.equal(next, 'unread number 1');
  const [dividerBox, scrollBox] = [await divider.boundingBox(), await carol.page.getByTestId('message-scroll').boundingBox()];
  assert.ok(dividerBox.y >= scrollBox.y && dividerBox.y + dividerBox.height <= scrollBox.y + scrollBox.height, 'the divider is not in view');
  assert.ok(await carol.page.getByTestId('message-scroll').evaluate((s) => s.scrollHeight - s.scrollTop - s.clientHeight > 40), 'opened at the bottom');
  // Today's messages have a "Today" separator before the first of them.
  assert.deepEqual(await carol.page.getByTestId('day-separator').allTextContents(), ['Today']);
  await carol.page.screenshot({ path: join(artifactsDir(), 'desktop-unread-divider.png') });
  // Read once scrolled down: the title and icon go back.
  await carol.page.getByTestId('message-scroll').evaluate((s) => (s.scrollTop = s.scrollHeight));
  await until(carol.page, () => document.title === 'Confab');
  assert.equal(await carol.page.locator('#favicon').getAttribute('href'), '/favicon.svg');
  assert.equal(await divider.isVisible(), true, 'the divider stays while the conversation is open');

  // A day later the same messages are "Yesterday".
  await carol.page.clock.setFixedTime(Date.now() + 24 * 3600 * 1000);
  await carol.page.reload();
  await openConversation(carol.page, alice.displayName);
  await until(carol.page, () => document.querySelector('[data-testid=day-separator]')?.textContent === 'Yesterday');
});

test('the open conversation announces new messages in a live region', { timeout: T }, async () => {
  const dan = await newUser('live', 'Dan Live');
  await startDirectChat(dan.page, alice.username, alice.displayName);
  await send(dan.page, 'hi alice');
  await openConversation(alice.page, dan.displayName);
  await send(alice.page, 'hi dan, this is news');
  const region = dan.page.getByTestId('message-announcer');
  await until(dan.page, () => /New message from Alice Liddell: hi dan, this is news/.test(document.getElementById('message-announcer')?.textContent));
  assert.equal(await region.getAttribute('aria-live'), 'polite');
  assert.equal(await dan.page.getByTestId('message-list').getAttribute('aria-live'), null, 'the whole list is live too');
  // One's own messages are not announced.
  await send(dan.page, 'my own words');
  await send(alice.page, 'second news');
  await until(dan.page, () => /second news/.test(document.getElementById('message-announcer').textContent));
  assert.doesNotMatch(await region.textContent(), /my own words/);
});

test('keyboard: Enter sends, Shift+Enter is a new line, Ctrl+K and Cmd+K jump, Escape closes', { timeout: T }, async () => {
  const erin = await newUser('keys', 'Erin Keys');
  await startDirectChat(erin.page, alice.username, alice.displayName);
  const page = erin.page;
  await page.getByTestId('composer-input').click();
  await page.keyboard.type('line one');
  await page.keyboard.press('Shift+Enter');
  await page.keyboard.type('line two');
  assert.equal(await page.getByTestId('composer-input').inputValue(), 'line one\nline two');
  await page.keyboard.press('Enter');
  await waitForMessage(page, 'line one\nline two');
  assert.equal(await page.getByTestId('composer-input').inputValue(), '');

  await page.keyboard.press('Escape'); // closes the conversation
  await until(page, () => document.getElementById('chat-view').hidden);
  for (const combo of ['Control+k', 'Meta+k']) {
    await page.keyboard.press(combo);
    const dialog = page.getByTestId('jump-dialog');
    await dialog.waitFor({ state: 'visible' });
    assert.equal(await page.evaluate(() => document.activeElement.id), 'jump-input');
    await page.keyboard.type('alice');
    assert.deepEqual(await page.getByTestId('jump-result').allTextContents(), [alice.displayName]);
    await page.keyboard.press('Enter');
    await until(page, (name) => document.getElementById('chat-title').textContent === name && !document.getElementById('jump-dialog').open, alice.displayName);
    await page.keyboard.press('Escape');
    await until(page, () => document.getElementById('chat-view').hidden);
  }
  // Escape closes the dialogs.
  await page.keyboard.press('Control+k');
  await page.getByTestId('jump-dialog').waitFor({ state: 'visible' });
  await page.keyboard.type('nobody here');
  assert.equal(await page.getByTestId('jump-result').count(), 0);
  await page.screenshot({ path: join(artifactsDir(), 'desktop-quick-jump.png') });
  await page.keyboard.press('Escape');
  await page.getByTestId('jump-dialog').waitFor({ state: 'hidden' });
  await page.getByTestId('settings-btn').click();
  await page.getByTestId('settings-dialog').waitFor({ state: 'visible' });
  await page.keyboard.press('Escape');
  await page.getByTestId('settings-dialog').waitFor({ state: 'hidden' });
});

test('no script errors and no missing files in any page', () => {
  assert.deepEqual(pageErrors, []);
  assert.deepEqual(notFound, []);
});
