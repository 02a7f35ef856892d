// End-to-end: replies, edits, deletes and reactions in the web client, and a device that was
// offline while messages changed converging (timeline, screen and IndexedDB) to one that was not.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
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
} from './harness.js';

const T = 90000;
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

/** The list item of the message shown with this text. */
function item(page, text) {
  return page.locator('[data-testid=message]', { has: page.locator('[data-testid=message-text]', { hasText: new RegExp(`^${text}$`) }) });
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

test('reply with a quote that jumps to its message, edit, react with who reacted, delete after confirming', { timeout: T }, async () => {
  const alice = await newUser('alice', 'Alice Liddell');
  const bob = await newUser('bob', 'Bob Marley');
  await startDirectChat(alice.page, bob.username, bob.displayName);
  await send(alice.page, 'question?');
  for (let i = 1; i <= 3; i++) await send(alice.page, `filler ${i}`);
  await openConversation(bob.page, alice.displayName);
  await waitForMessage(bob.page, 'filler 3');

  // Bob replies to the question: the composer says so, the reply shows the quote on both sides.
  await item(bob.page, 'question\\?').getByTestId('message-reply').click();
  assert.match(await bob.page.getByTestId('composer-mode').textContent(), /Replying to Alice Liddell: question\?/);
  await send(bob.page, 'here is the answer');
  for (const u of [alice, bob]) {
    const quote = item(u.page, 'here is the answer').getByTestId('message-quote');
    await quote.waitFor();
    assert.equal(await quote.textContent(), `${u === alice ? 'You' : 'Alice Liddell'}: question?`);
  }
  assert.equal(await bob.page.getByTestId('composer-mode').count(), 0, 'reply mode ends with the send');
  // A click on the quote jumps to the quoted message.
  await item(alice.page, 'here is the answer').getByTestId('message-quote').click();
  await until(alice.page, () =>
    [...document.querySelectorAll('[data-testid=message]')].some(
      (el) => el.dataset.highlighted === 'true' && el.querySelector('[data-testid=message-text]').textContent === 'question?',
    ),
  );

  // Alice edits the question: both sides show the new text with the "edited" mark, and the quote follows.
  await item(alice.page, 'question\\?').getByTestId('message-edit').click();
  assert.equal(await alice.page.getByTestId('composer-input').inputValue(), 'question?');
  await alice.page.getByTestId('composer-input').fill('the real question?');
  await alice.page.getByTestId('composer-input').press('Enter');
  for (const u of [alice, bob]) {
    await waitForMessage(u.page, 'the real question?');
    await item(u.page, 'the real question\\?').getByTestId('message-edited').waitFor();
    await until(u.page, () =>
      [...document.querySelectorAll('[data-testid=message-quote]')].some((q) => q.textContent.endsWith('the real question?')),
    );
  }

  // Bob reacts from the picker; both see the count, and who reacted on hover (the title).
  await item(bob.page, 'the real question\\?').getByTestId('message-react').click();
  await bob.page.getByTestId('emoji-picker').getByText('👍').click();
  await alice.page.getByTestId('composer-input').focus();
  for (const u of [alice, bob]) {
    const reaction = item(u.page, 'the real question\\?').getByTestId('reaction');
    await until(u.page, () => document.querySelector('[data-testid=reaction]')?.textContent === '👍 1');
    assert.equal(await reaction.getAttribute('title'), u === bob ? 'You' : 'Bob Marley');
  }
  // Alice adds hers with a click on the count; a second click takes it back.
  const aliceReaction = item(alice.page, 'the real question\\?').getByTestId('reaction');
  await aliceReaction.click();
  await until(bob.page, () => document.querySelector('[data-testid=reaction]')?.textContent === '👍 2');
  assert.equal(await item(bob.page, 'the real question\\?').getByTestId('reaction').getAttribute('title'), 'You, Alice Liddell');
  await aliceReaction.click();
  await until(bob.page, () => document.querySelector('[data-testid=reaction]')?.textContent === '👍 1');

  // Alice deletes it: asked first (cancel keeps it), then gone for both, reactions too.
  await item(alice.page, 'the real question\\?').getByTestId('message-delete').click();
  await alice.page.getByTestId('delete-cancel').click();
  await waitForMessage(alice.page, 'the real question?');
  await item(alice.page, 'the real question\\?').getByTestId('message-delete').click();
  await alice.page.getByTestId('delete-confirm').click();
  for (const u of [alice, bob]) {
    await waitForMessage(u.page, 'This message was deleted');
    const gone = item(u.page, 'This message was deleted');
    assert.equal(await gone.getAttribute('data-deleted'), 'true');
    assert.equal(await gone.getByTestId('reaction').count(), 0);
    assert.equal(await gone.getByTestId('message-edit').count(), 0, 'nothing more to do with a tombstone');
  }
  await alice.page.screenshot({ path: join(artifactsDir(), 'lifecycle.png') });
  // Bob cannot delete Alice's messages in a direct chat: no Delete button on hers.
  assert.equal(await item(bob.page, 'filler 1').getByTestId('message-delete').count(), 0);
});

test('a device offline while messages change converges to one that was online, on screen and in IndexedDB', { timeout: T }, async () => {
  const { alice, bob } = users;
  const carol = await newUser('carol', 'Carol Danvers');
  // Bob's second device: the same user in another browser profile, which goes offline.
  const context = await chrome.browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(15000);
  const tablet = await context.newPage();
  tablet.on('pageerror', (err) => pageErrors.push(`bob tablet: ${err.message}`));
  users.tablet = { context, page: tablet };
  await tablet.goto(server.url + '/');
  await tablet.getByTestId('auth-username').fill(bob.username);
  await tablet.getByTestId('auth-password').fill('correct horse battery');
  await tablet.getByTestId('auth-submit').click();
  await tablet.locator('[data-testid=conn-status][data-state=online]').waitFor({ state: 'attached' });

  const group = await alice.page.evaluate(
    ([bobId, carolId]) => window.confab.createGroup('Changes', [bobId, carolId]),
    [bob.userId, carol.userId],
  );
  await openConversation(alice.page, 'Changes');
  for (const text of ['one', 'two', 'three', 'four']) await send(alice.page, text);
  for (const page of [bob.page, tablet, carol.page]) {
    await openConversation(page, 'Changes');
    await waitForMessage(page, 'four');
  }

  await context.setOffline(true);
  await tablet.locator('[data-testid=conn-status][data-state=offline]').waitFor({ state: 'attached' });
  // Meanwhile, from the other browsers: an edit, a delete, reactions added and taken back, a reply.
  const id = group.conversationId;
  await alice.page.evaluate(async (id) => {
    const c = window.confab;
    const mine = (text) => c.messages(id).find((m) => m.content.text === text);
    await c.edit(id, mine('one').messageId, 'one, edited');
    await c.deleteMessage(id, mine('two').messageId);
    await c.react(id, mine('three').messageId, '🎉');
  }, id);
  await carol.page.evaluate(async (id) => {
    const c = window.confab;
    const m = (text) => c.messages(id).find((x) => x.content.text === text);
    await c.react(id, m('three').messageId, '🎉', m('three').senderId);
    await c.react(id, m('four').messageId, '👀', m('four').senderId);
    await c.unreact(id, m('four').messageId, '👀', m('four').senderId);
    c.reply(id, 'replying to four', m('four').messageId);
  }, id);
  await waitForMessage(bob.page, 'replying to four');
  const target = await alice.page.evaluate(async (id) => (await window.confab.api('GET', `/conversations/${id}`)).lastUpdateSequence, id);
  assert.equal(target, 6);
  await until(bob.page, ([id, target]) => window.confab.timeline(id).updates.upTo === target, [id, target]);
  // Nothing reached the offline tablet.
  assert.equal(await tablet.evaluate((id) => window.confab.timeline(id).updates.upTo, id), 0);

  await context.setOffline(false);
  await tablet.locator('[data-testid=conn-status][data-state=online]').waitFor({ state: 'attached' });
  await until(tablet, ([id, target]) => window.confab.timeline(id).updates.upTo === target, [id, target]);
  await waitForMessage(tablet, 'replying to four');

  /** The timeline as the app holds it, and the copy in IndexedDB, without local-only fields. */
  const state = (page) =>
    page.evaluate(async (id) => {
      const pick = (m) => ({
        seq: m.sequenceNumber,
        text: m.content.text ?? m.content.type,
        deleted: m.deleted ?? false,
        editedAt: m.editedAt ?? null,
        reactions: (m.reactions ?? []).map((r) => [r.emoji, r.count, [...r.userIds].sort()]),
        replyTo: m.replyTo ?? null,
        updateSequence: m.updateSequence,
      });
      const held = window.confab.messages(id).map(pick);
      // IndexedDB is written in the background: wait for the copy to match what is held.
      let stored = [];
      for (let i = 0; i < 100; i++) {
        stored = (await window.confab.store.getMessages(id, Infinity, 100)).map(pick);
        if (JSON.stringify(stored) === JSON.stringify(held)) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      return { held, stored };
    }, id);
  const online = await state(bob.page);
  const back = await state(tablet);
  assert.deepEqual(back.held, online.held, 'the timelines agree');
  assert.deepEqual(back.stored, back.held, 'IndexedDB holds the current state');
  assert.deepEqual(online.stored, online.held);
  assert.deepEqual(
    online.held.map((m) => [m.text, m.deleted, m.reactions.map((r) => r[0] + r[1])]),
    [
      ['one, edited', false, []],
      ['deleted', true, []],
      ['three', false, ['🎉2']],
      ['four', false, []],
      ['replying to four', false, []],
    ],
  );
  // And the screens agree.
  const texts = async (page) => (await shownMessages(page)).map((m) => m.text);
  assert.deepEqual(await texts(tablet), await texts(bob.page));
  assert.deepEqual(await texts(tablet), ['one, edited', 'This message was deleted', 'three', 'four', 'replying to four']);
});

test('no script errors in any page', () => {
  assert.deepEqual(pageErrors, []);
});
