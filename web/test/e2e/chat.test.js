// End-to-end: real server, real Chromium, several users in separate browser contexts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  startServer,
  launchBrowser,
  artifactsDir,
  until,
  shownMessages,
  waitForMessage,
  register,
  startDirectChat,
  openConversation,
  send,
  WEB_DIR,
} from './harness.js';

const T = 60000;
let server;
let chrome;
const users = {}; // name -> {context, page, userId, token}
const consoleErrors = [];

async function newUser(name, displayName, viewport = { width: 1280, height: 800 }) {
  const context = await chrome.browser.newContext({ viewport });
  context.setDefaultTimeout(15000);
  const page = await context.newPage();
  page.on('pageerror', (err) => consoleErrors.push(`${name}: ${err.message}`));
  const username = `${name}_${Date.now().toString(36)}`;
  const ids = await register(page, server.url, username, displayName);
  users[name] = { context, page, username, displayName, ...ids };
  return users[name];
}

function assertOrderedUnique(list, label) {
  // A message is identified by its sender and its messageId (senders may share a messageId).
  const ids = list.map((m) => JSON.stringify([m.senderId, m.id]));
  assert.equal(new Set(ids).size, ids.length, `${label}: duplicate messages shown`);
  const seqs = list.filter((m) => m.seq !== null).map((m) => m.seq);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), `${label}: messages out of order`);
  for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, `${label}: gap in sequence numbers`);
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

test('two users register and chat both ways; ticks go sent → delivered → read', { timeout: T }, async () => {
  const alice = await newUser('alice', 'Alice Liddell');
  const bob = await newUser('bob', 'Bob Builder');

  await startDirectChat(alice.page, bob.username, bob.displayName);
  assert.equal(await alice.page.getByTestId('chat-title').textContent(), 'Bob Builder');

  // Bob is online with no chat open: his device stores the message, so Alice sees "delivered",
  // and the conversation shows up in his list with an unread badge.
  await send(alice.page, 'Hi Bob, are you there?');
  await waitForMessage(alice.page, 'Hi Bob, are you there?', 'delivered');
  const bobItem = bob.page.locator('[data-testid=conv-item][data-name="Alice Liddell"]');
  await bobItem.waitFor();
  await until(bob.page, () => document.querySelector('[data-testid=conv-item] [data-testid=conv-unread]')?.textContent === '1');
  assert.match(await bobItem.locator('[data-testid=conv-last]').textContent(), /Hi Bob, are you there\?/);
  // Not read before Bob opens the chat.
  assert.equal((await shownMessages(alice.page)).at(-1).status, 'delivered');

  // Bob opens the chat: the read tick appears on Alice's side.
  await openConversation(bob.page, 'Alice Liddell');
  await waitForMessage(bob.page, 'Hi Bob, are you there?');
  await waitForMessage(alice.page, 'Hi Bob, are you there?', 'read');
  await until(bob.page, () => document.querySelector('[data-testid=conv-unread]').hidden);

  // And back.
  await send(bob.page, 'Yes! Hello Alice 👋');
  await waitForMessage(alice.page, 'Yes! Hello Alice 👋');
  await waitForMessage(bob.page, 'Yes! Hello Alice 👋', 'read'); // Alice has the chat open
  await send(alice.page, 'Great, the web client works.');
  await waitForMessage(bob.page, 'Great, the web client works.');

  for (const u of [alice, bob]) {
    const shown = await shownMessages(u.page);
    assert.deepEqual(
      shown.map((m) => m.text),
      ['Hi Bob, are you there?', 'Yes! Hello Alice 👋', 'Great, the web client works.'],
    );
    assertOrderedUnique(shown, u.displayName);
  }

  // Presence: each sees the other online.
  await until(alice.page, () => document.getElementById('chat-status').textContent === 'online');
  await until(bob.page, () => document.getElementById('chat-status').textContent === 'online');
});

test('typing shows on the other side and clears', { timeout: T }, async () => {
  const { alice, bob } = users;
  const indicator = alice.page.getByTestId('typing-indicator');
  assert.equal(await indicator.textContent(), '');
  await bob.page.getByTestId('composer-input').pressSequentially('I am wri', { delay: 20 });
  await until(alice.page, () => document.getElementById('typing-indicator').textContent === 'Bob Builder is typing…');
  // Clearing the composer stops typing at once (well before the server's 5 s expiry).
  const cleared = Date.now();
  await bob.page.getByTestId('composer-input').fill('');
  await until(alice.page, () => document.getElementById('typing-indicator').textContent === '');
  assert.ok(Date.now() - cleared < 4000, 'typing cleared by typing.stop, not by expiry');

  // Typing then sending clears it too, and the message arrives.
  await bob.page.getByTestId('composer-input').pressSequentially('Typing again', { delay: 20 });
  await until(alice.page, () => document.getElementById('typing-indicator').textContent !== '');
  await bob.page.getByTestId('composer-input').press('Enter');
  await waitForMessage(alice.page, 'Typing again');
  await until(alice.page, () => document.getElementById('typing-indicator').textContent === '');
});

test('a device that goes offline misses messages, then shows them in order without duplicates', { timeout: T }, async () => {
  const { alice, bob } = users;
  const carol = await newUser('carol', 'Carol Danvers');

  // Alice creates a group with Bob and Carol.
  await alice.page.getByTestId('new-group-btn').click();
  await alice.page.getByTestId('group-name').fill('Trio');
  for (const u of [bob, carol]) {
    await alice.page.getByTestId('people-search').fill(u.username);
    await alice.page.locator(`[data-testid=people-result][data-username="${u.username}"]`).click();
  }
  await alice.page.getByTestId('people-confirm').click();
  await until(alice.page, () => document.getElementById('chat-title').textContent === 'Trio');
  await send(alice.page, 'Welcome to Trio');

  for (const u of [bob, carol]) {
    await u.page.locator('[data-testid=conv-item][data-name="Trio"]').waitFor();
    await openConversation(u.page, 'Trio');
    await waitForMessage(u.page, 'Welcome to Trio');
  }
  await waitForMessage(alice.page, 'Welcome to Trio', 'read');

  // Carol goes offline.
  await carol.context.setOffline(true);
  await carol.page.locator('[data-testid=conn-status][data-state=offline]').waitFor({ state: 'attached' });
  assert.match(await carol.page.getByTestId('conn-status').textContent(), /Offline/);

  const missed = ['one from Alice', 'one from Bob', 'two from Alice', 'two from Bob', 'three from Alice'];
  for (const [i, text] of missed.entries()) {
    const sender = i % 2 === 0 ? alice : bob;
    await send(sender.page, text);
    await waitForMessage(sender.page, text, 'sent'); // acknowledged by the server
  }
  await waitForMessage(bob.page, 'three from Alice');
  // Carol writes while offline: queued, shown as pending.
  await carol.page.getByTestId('composer-input').fill('written while offline');
  await carol.page.getByTestId('composer-input').press('Enter');
  await waitForMessage(carol.page, 'written while offline', 'pending');
  const whileOffline = (await shownMessages(carol.page)).map((m) => m.text);
  assert.deepEqual(whileOffline, ['Welcome to Trio', 'written while offline'], 'offline device got nothing live');

  // Back online: reconnect, sync, flush the queue.
  await carol.context.setOffline(false);
  await carol.page.locator('[data-testid=conn-status][data-state=online]').waitFor({ state: 'attached' });
  await waitForMessage(carol.page, 'three from Alice');
  await waitForMessage(carol.page, 'written while offline', 'read'); // Alice and Bob have Trio open
  const shown = await shownMessages(carol.page);
  assert.deepEqual(
    shown.map((m) => m.text),
    ['Welcome to Trio', ...missed, 'written while offline'],
  );
  assertOrderedUnique(shown, 'Carol');
  assert.equal(shown[0].seq, 1);

  // Carol has read everything: ticks turn read on the senders' side (for Bob's messages through
  // Carol's read receipt, and also because writing moves her read marker to her message).
  await waitForMessage(alice.page, 'three from Alice', 'read');
  await waitForMessage(bob.page, 'two from Bob', 'read');

  // The others got Carol's queued message exactly once, in the same place.
  for (const u of [alice, bob]) {
    await waitForMessage(u.page, 'written while offline');
    const theirs = await shownMessages(u.page);
    assert.deepEqual(theirs.map((m) => m.text), shown.map((m) => m.text));
    assertOrderedUnique(theirs, u.displayName);
  }
});

test('a new device signs in and scrolls history back to the first message', { timeout: T }, async () => {
  const { alice, bob } = users;
  // 90 more messages through the REST API, so the chat has several pages of history.
  const c = await alice.page.evaluate(async (bobId) => {
    const c = await window.confab.api('POST', '/conversations', { type: 'direct', participantIds: [bobId] });
    for (let i = 1; i <= 90; i++) {
      await window.confab.api('POST', `/conversations/${c.conversationId}/messages`, {
        messageId: `bulk-${i}`,
        content: { type: 'text', text: `history ${i}` },
      });
    }
    return c;
  }, bob.userId);
  const total = c.lastSequence + 90; // c was read before the 90 were sent
  assert.ok(total >= 93);

  // Bob on a second browser: a new device with empty local storage, signing in with the form.
  const context = await chrome.browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on('pageerror', (err) => consoleErrors.push(`bob (2nd device): ${err.message}`));
  await page.goto(server.url + '/');
  await page.getByTestId('auth-username').fill(bob.username);
  await page.getByTestId('auth-password').fill('wrong password!');
  await page.getByTestId('auth-submit').click();
  await until(page, () => document.getElementById('auth-error').textContent === 'Wrong username or password.');
  await page.getByTestId('auth-password').fill('correct horse battery');
  await page.getByTestId('auth-submit').click();
  await page.locator('[data-testid=conn-status][data-state=online]').waitFor({ state: 'attached' });

  await openConversation(page, 'Alice Liddell');
  await waitForMessage(page, 'history 90');
  const first = await shownMessages(page);
  assert.ok(first.length < total, 'only the newest page loads at first');
  assertOrderedUnique(first, 'Bob (newest page)');
  // Scroll to the top until the very first message is there (each scroll loads a page).
  await until(
    page,
    () => {
      const s = document.getElementById('message-scroll');
      s.scrollTop = 0;
      s.dispatchEvent(new Event('scroll'));
      return document.querySelector('[data-testid=message][data-seq="1"]');
    },
    undefined,
    20000,
  );
  await until(page, () => document.getElementById('history-status').textContent === 'Beginning of the conversation');
  const all = await shownMessages(page);
  assert.equal(all.length, total);
  assertOrderedUnique(all, 'Bob (history)');
  assert.equal(all[0].text, 'Hi Bob, are you there?');
  assert.equal(all.at(-1).text, 'history 90');
  // Everything shown is kept in IndexedDB for the next visit.
  const stored = await page.evaluate(
    (id) => window.confab.store.getMessages(id, Infinity, 1000).then((l) => l.map((m) => m.sequenceNumber)),
    c.conversationId,
  );
  assert.deepEqual(stored, all.map((m) => m.seq));
  await context.close();
});

test('screenshots at desktop and phone widths', { timeout: T }, async () => {
  const { alice, bob } = users;
  const dir = artifactsDir();
  await openConversation(alice.page, 'Trio');
  await waitForMessage(alice.page, 'written while offline');
  await alice.page.screenshot({ path: join(dir, 'desktop-chat.png') });

  await bob.page.setViewportSize({ width: 390, height: 844 });
  assert.equal(await bob.page.getByTestId('chat-title').textContent(), 'Trio');
  await waitForMessage(bob.page, 'written while offline');
  await bob.page.screenshot({ path: join(dir, 'phone-chat.png') });
  // On a phone the list and the chat are separate screens.
  assert.equal(await bob.page.locator('.sidebar').isVisible(), false);
  await bob.page.getByTestId('back-btn').click();
  await bob.page.getByTestId('conversation-list').waitFor();
  assert.equal(await bob.page.locator('#chat-view').isVisible(), false);
  await bob.page.screenshot({ path: join(dir, 'phone-list.png') });

  // The README's pictures are refreshed on request only, so a test run leaves the tree clean.
  if (process.env.CONFAB_UPDATE_DOCS_IMG) {
    const img = join(WEB_DIR, '..', 'docs', 'img');
    mkdirSync(img, { recursive: true });
    copyFileSync(join(dir, 'desktop-chat.png'), join(img, 'web-desktop.png'));
    copyFileSync(join(dir, 'phone-chat.png'), join(img, 'web-phone.png'));
  }
});

test('an offline contact shows when they were last seen', { timeout: T }, async () => {
  const { alice, carol } = users;
  await carol.context.close(); // Carol closes her browser: her only device disconnects
  delete users.carol;
  await startDirectChat(alice.page, carol.username, carol.displayName);
  assert.equal(await alice.page.getByTestId('chat-title').textContent(), 'Carol Danvers');
  await until(alice.page, () => /^last seen /.test(document.getElementById('chat-status').textContent));
  const dot = alice.page.locator('[data-testid=conv-item][data-name="Carol Danvers"] [data-testid=conv-presence]');
  assert.equal(await dot.getAttribute('data-status'), 'offline');
  assert.equal(
    await alice.page.locator('[data-testid=conv-item][data-name="Bob Builder"] [data-testid=conv-presence]').getAttribute('data-status'),
    'online',
  );
});

test('a member reusing the messageId of a shown message gets their own message, kept apart', { timeout: T }, async () => {
  const { alice, bob } = users;
  await bob.page.setViewportSize({ width: 1280, height: 800 });
  await openConversation(alice.page, 'Bob Builder');
  await openConversation(bob.page, 'Alice Liddell');
  await send(alice.page, 'an id worth reusing');
  await waitForMessage(alice.page, 'an id worth reusing', 'read');
  const original = (await shownMessages(alice.page)).find((m) => m.text === 'an id worth reusing');
  assert.equal(original.senderId, alice.userId);

  // Bob sends a message with the same messageId (the server scopes ids to their sender).
  const reply = await bob.page.evaluate(
    ([id, messageId]) =>
      window.confab.api('POST', `/conversations/${encodeURIComponent(id)}/messages`, {
        messageId,
        content: { type: 'text', text: 'same id, other sender' },
      }),
    [decodeURIComponent(await bob.page.evaluate(() => location.hash.slice(1))), original.id],
  );
  assert.equal(reply.messageId, original.id);
  assert.equal(reply.sequenceNumber, original.seq + 1);

  for (const u of [alice, bob]) {
    await waitForMessage(u.page, 'same id, other sender');
    const shown = await shownMessages(u.page);
    assertOrderedUnique(shown, u.displayName);
    const both = shown.filter((m) => m.id === original.id);
    assert.deepEqual(
      both.map((m) => [m.seq, m.senderId, m.text]),
      [
        [original.seq, alice.userId, 'an id worth reusing'],
        [original.seq + 1, bob.userId, 'same id, other sender'],
      ],
      `${u.displayName} shows both messages`,
    );
  }
  // Both are kept in IndexedDB: after a reload, Bob's device shows both again.
  await bob.page.reload();
  await bob.page.locator('[data-testid=conn-status][data-state=online]').waitFor({ state: 'attached' });
  await openConversation(bob.page, 'Alice Liddell');
  await waitForMessage(bob.page, 'same id, other sender');
  await waitForMessage(bob.page, 'an id worth reusing');
  const stored = await bob.page.evaluate(
    (messageId) =>
      window.confab.store
        .getMessages(decodeURIComponent(location.hash.slice(1)), Infinity, 1000)
        .then((l) => l.filter((m) => m.messageId === messageId).map((m) => m.senderId)),
    original.id,
  );
  assert.deepEqual(stored, [alice.userId, bob.userId]);
});

test('local storage written by the previous schema (messages by messageId) is upgraded in place', { timeout: T }, async () => {
  const { alice } = users;
  // What Alice's previous client version kept of the Bob chat: messages keyed by messageId alone
  // (so only one of the two sharing an id), plus a record without a sender, which is dropped.
  assert.equal(await alice.page.getByTestId('chat-title').textContent(), 'Bob Builder');
  const page1 = await alice.page.evaluate(async () => {
    const id = location.hash.slice(1); // the Bob chat, still open; encoded already
    return (await window.confab.api('GET', `/conversations/${id}/messages?limit=5`)).messages;
  });
  assert.equal(page1.at(-1).content.text, 'same id, other sender');
  assert.equal(page1.length, 5);
  const context = await chrome.browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on('pageerror', (err) => consoleErrors.push(`alice (old storage): ${err.message}`));
  await page.goto(server.url + '/');
  await page.evaluate(
    ([name, messages]) =>
      new Promise((resolve, reject) => {
        const req = indexedDB.open(name, 1);
        req.onupgradeneeded = () => {
          const db = req.result;
          db.createObjectStore('conversations', { keyPath: 'conversationId' });
          const store = db.createObjectStore('messages', { keyPath: 'messageId' });
          store.createIndex('bySeq', ['conversationId', 'sequenceNumber']);
          db.createObjectStore('outbox', { keyPath: 'messageId' });
          db.createObjectStore('users', { keyPath: 'userId' });
        };
        req.onerror = () => reject(req.error);
        req.onsuccess = () => {
          const db = req.result;
          const tx = db.transaction('messages', 'readwrite');
          for (const m of messages) tx.objectStore('messages').put(m);
          tx.objectStore('messages').put({ messageId: 'no-sender', conversationId: messages[0].conversationId, sequenceNumber: 1 });
          tx.oncomplete = () => {
            db.close();
            resolve();
          };
          tx.onerror = () => reject(tx.error);
        };
      }),
    [`confab-${alice.userId}`, page1],
  );
  await page.getByTestId('auth-username').fill(alice.username);
  await page.getByTestId('auth-password').fill('correct horse battery');
  await page.getByTestId('auth-submit').click();
  await page.locator('[data-testid=conn-status][data-state=online]').waitFor({ state: 'attached' });
  await openConversation(page, 'Bob Builder');
  await waitForMessage(page, 'same id, other sender');
  await waitForMessage(page, 'an id worth reusing'); // not in the old store: from the server
  const shown = await shownMessages(page);
  assertOrderedUnique(shown, 'Alice (upgraded storage)');
  assert.deepEqual(shown.slice(-5).map((m) => m.seq), page1.map((m) => m.sequenceNumber));
  assert.equal(shown.filter((m) => m.text === 'an id worth reusing' || m.text === 'same id, other sender').length, 2);
  // The database is at version 2: messages keyed by [senderId, messageId], the old store gone, the
  // old records carried over.
  const db = await page.evaluate(
    ([name, keys]) =>
      new Promise((resolve, reject) => {
        const req = indexedDB.open(name);
        req.onerror = () => reject(req.error);
        req.onsuccess = () => {
          const db = req.result;
          const store = db.transaction('messages').objectStore('messages');
          const found = keys.map((k) => store.get(k));
          const junk = store.index('bySeq').getAll();
          junk.onsuccess = () => {
            resolve({
              version: db.version,
              stores: [...db.objectStoreNames].sort(),
              keyPath: store.keyPath,
              found: found.map((r) => r.result?.sequenceNumber ?? null),
              noSender: junk.result.filter((m) => m.messageId === 'no-sender').length,
            });
            db.close();
          };
        };
      }),
    [`confab-${alice.userId}`, page1.map((m) => [m.senderId, m.messageId])],
  );
  assert.deepEqual(db, {
    version: 2,
    stores: ['conversations', 'messages', 'outbox', 'users'],
    keyPath: ['senderId', 'messageId'],
    found: page1.map((m) => m.sequenceNumber),
    noSender: 0,
  });
  await context.close();
});

test('registration shows the one password rule that failed', { timeout: T }, async () => {
  const context = await chrome.browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on('pageerror', (err) => consoleErrors.push(`weak: ${err.message}`));
  await page.goto(server.url + '/');
  await page.getByTestId('auth-toggle').click();
  assert.match(await page.getByTestId('auth-password-hint').textContent(), /hard to guess/);
  await page.getByTestId('auth-username').fill(`weak_${Date.now().toString(36)}`);
  await page.getByTestId('auth-password').fill('12345678');
  await page.getByTestId('auth-submit').click();
  await until(page, () => /^Password is too easy to guess/.test(document.getElementById('auth-error').textContent));
  await page.getByTestId('auth-password').fill('correct horse battery');
  await page.getByTestId('auth-submit').click();
  await page.locator('[data-testid=conn-status][data-state=online]').waitFor({ state: 'attached' });
  await context.close();
});

test('no script errors in any page', () => {
  assert.deepEqual(consoleErrors, []);
});
