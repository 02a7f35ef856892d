// End-to-end: message search in the web client: over every conversation from the sidebar and in one
// from its header, snippets with marked hits and markup shown as text, more results by cursor,
// and a result opening its conversation at the message, loading history back to it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, launchBrowser, artifactsDir, until, register, startDirectChat, openConversation, send } from './harness.js';

const T = 120000;
let server;
let chrome;
const users = {};
const pageErrors = [];

async function newUser(name, displayName) {
  const context = await chrome.browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(15000);
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${name}: ${err.message}`));
  const username = `${name}_${Date.now().toString(36)}`;
  const ids = await register(page, server.url, username, displayName);
  users[name] = { context, page, username, displayName, ...ids };
  return users[name];
}

/** Sends messages over REST as `user` (faster than typing a long history). */
async function post(user, conversationId, texts) {
  for (const text of texts) {
    const res = await fetch(`${server.url}/api/v1/conversations/${encodeURIComponent(conversationId)}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ content: { type: 'text', text } }),
    });
    assert.equal(res.status, 201, await res.text());
  }
}

async function search(page, button, q) {
  await page.getByTestId(button).click();
  await page.getByTestId('search-input').fill(q);
  await page.getByTestId('search-input').press('Enter');
  await until(page, () => /found/.test(document.querySelector('[data-testid=search-status]')?.textContent || ''));
}

before(async () => {
  server = await startServer();
  chrome = await launchBrowser();
});

after(async () => {
  for (const u of Object.values(users)) await u.context.close().catch(() => {});
  await chrome?.close();
  await server?.stop();
});

test('search everywhere and in one conversation; a result opens its conversation at the message', { timeout: T }, async () => {
  const alice = await newUser('alice', 'Alice Liddell');
  const bob = await newUser('bob', 'Bob Marley');
  const carol = await newUser('carol', 'Carol King');
  await startDirectChat(alice.page, bob.username, bob.displayName);
  await send(alice.page, 'Meet at the Café <b>noon</b> & "bring maps"');
  const withBob = await alice.page.evaluate(() => location.hash.slice(1));
  // Many messages after it, so opening it needs older history.
  await post(alice, decodeURIComponent(withBob), Array.from({ length: 120 }, (_, i) => `filler line ${i}`));
  await startDirectChat(alice.page, carol.username, carol.displayName);
  await send(alice.page, 'the cafe with Carol');
  for (let i = 0; i < 25; i++) await post(alice, decodeURIComponent(await alice.page.evaluate(() => location.hash.slice(1))), [`cafe note ${i}`]);

  // Everywhere: both conversations; snippets mark the hit and show markup as text.
  await search(alice.page, 'search-all-btn', 'CAFE');
  const results = alice.page.getByTestId('search-result');
  assert.equal(await results.count(), 20, 'one page');
  assert.equal(await alice.page.getByTestId('search-more').isVisible(), true);
  await alice.page.getByTestId('search-more').click();
  await until(alice.page, () => document.querySelectorAll('[data-testid=search-result]').length === 27);
  assert.equal(await alice.page.getByTestId('search-more').isVisible(), false);
  const cafe = alice.page.locator('[data-testid=search-result]', { hasText: 'noon' });
  assert.equal(await cafe.getByTestId('search-snippet').textContent(), 'Meet at the Café <b>noon</b> & "bring maps"');
  assert.equal(await cafe.locator('mark').textContent(), 'Café');
  assert.equal(await cafe.locator('b').count(), 0, 'markup in a message is text, not elements');
  await alice.page.screenshot({ path: join(artifactsDir(), 'search-results.png') });

  // Choosing it opens the conversation with Bob, history loaded back to the message, highlighted.
  await cafe.click();
  await until(alice.page, (name) => document.getElementById('chat-title').textContent === name, bob.displayName);
  await until(alice.page, () => !!document.querySelector('[data-testid=message][data-highlighted=true]'));
  const highlighted = alice.page.locator('[data-testid=message][data-highlighted=true] [data-testid=message-text]');
  assert.equal(await highlighted.textContent(), 'Meet at the Café <b>noon</b> & "bring maps"');

  // In one conversation: only its messages; phrases and prefixes.
  await openConversation(alice.page, carol.displayName);
  await search(alice.page, 'search-here-btn', '"cafe note" 2*');
  const here = await alice.page.$$eval('[data-testid=search-snippet]', (els) => els.map((e) => e.textContent));
  assert.deepEqual(here.sort(), ['cafe note 2', 'cafe note 20', 'cafe note 21', 'cafe note 22', 'cafe note 23', 'cafe note 24']);
  assert.equal(await alice.page.getByTestId('search-dialog').getAttribute('data-scope'), 'conversation');
  await alice.page.keyboard.press('Escape');

  // Bob finds Alice's message in their conversation, nothing of Carol's.
  await search(bob.page, 'search-all-btn', 'cafe');
  assert.equal(await bob.page.getByTestId('search-result').count(), 1);
  await bob.page.keyboard.press('Escape');
  await search(bob.page, 'search-all-btn', 'zebra');
  assert.equal(await bob.page.getByTestId('search-status').textContent(), 'No messages found.');
  assert.deepEqual(pageErrors, []);
});
