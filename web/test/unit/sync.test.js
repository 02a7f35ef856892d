// Unit tests for sync (sdk-sync.js): the request built from each conversation's cursor, which
// conversations the next round asks for, rounds while the server has more, coalescing, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sync, syncRequest, syncFollowUp, SYNC_LIMIT, SYNC_ROUNDS } from '../../sdk/sdk-sync.js';
import { ConfabError } from '../../sdk/confab.js';

test('syncRequest asks for each conversation from its cursor', () => {
  const cursors = { a: 7, b: 0 };
  assert.deepEqual(syncRequest(['a', 'b'], (id) => cursors[id]), {
    conversations: [
      { conversationId: 'a', lastSequence: 7 },
      { conversationId: 'b', lastSequence: 0 },
    ],
    limit: SYNC_LIMIT,
  });
  assert.deepEqual(syncRequest(new Set(), () => 0, 5), { conversations: [], limit: 5 });
});

test('syncFollowUp: conversations with more and new ones, not unknown ones, each once', () => {
  const result = {
    conversations: [
      { conversationId: 'a', messages: [], hasMore: true, lastSequence: 500 },
      { conversationId: 'b', messages: [], hasMore: false, lastSequence: 3 },
      { conversationId: 'gone', messages: [], hasMore: true, lastSequence: 9 },
      { conversationId: 'n', messages: [], hasMore: true, lastSequence: 9 },
    ],
    newConversations: [{ conversationId: 'n' }],
    serverTime: 0,
  };
  assert.deepEqual(syncFollowUp(result, (id) => id !== 'gone'), ['n', 'a']);
});

/**
 * A Sync over a fake server: each conversation has `last` messages; a reply carries at most
 * `page` of them from the cursor, `hasMore` when there are more.
 */
function fakeServer({ conversations, page = 2, newConversations = {} }) {
  const held = new Map(Object.entries(conversations).map(([id, c]) => [id, { cursor: c.cursor, last: c.last }]));
  const requests = [];
  const events = [];
  let pendingNew = { ...newConversations };
  const server = { ...conversations };
  for (const [id, last] of Object.entries(newConversations)) server[id] = { last };
  let gate = null;
  const sync = new Sync({
    conversationIds: () => held.keys(),
    cursor: (id) => held.get(id).cursor,
    request: async (payload) => {
      requests.push(payload);
      if (gate) await gate;
      const fresh = Object.entries(pendingNew).map(([id, last]) => ({ conversationId: id, last }));
      pendingNew = {};
      return {
        newConversations: fresh.map((c) => ({ conversationId: c.conversationId, lastSequence: c.last })),
        conversations: payload.conversations
          .filter((c) => server[c.conversationId])
          .map(({ conversationId, lastSequence }) => {
            const last = server[conversationId].last;
            const upTo = Math.min(last, lastSequence + page);
            const messages = [];
            for (let s = lastSequence + 1; s <= upTo; s++) messages.push({ conversationId, sequenceNumber: s });
            return { conversationId, messages, hasMore: upTo < last, lastSequence: last };
          }),
        serverTime: 0,
      };
    },
    addConversation: (c) => held.set(c.conversationId, { cursor: 0, last: c.lastSequence }),
    apply: (r) => {
      const c = held.get(r.conversationId);
      if (!c) return false;
      for (const m of r.messages) c.cursor = Math.max(c.cursor, m.sequenceNumber);
      return true;
    },
    isOnline: () => true,
    emit: (type, detail) => events.push({ type, detail }),
  });
  return { sync, held, requests, events, hold: (p) => (gate = p) };
}

test('rounds continue from the advanced cursors while the server has more, new conversations included', async () => {
  const { sync, held, requests, events } = fakeServer({
    conversations: { a: { cursor: 0, last: 5 }, b: { cursor: 4, last: 5 } },
    newConversations: { n: 1 },
  });
  await sync.resync();
  assert.deepEqual(
    requests.map((r) => r.conversations.map((c) => `${c.conversationId}@${c.lastSequence}`)),
    [['a@0', 'b@4'], ['n@0', 'a@2'], ['a@4']],
  );
  assert.deepEqual([...held].map(([id, c]) => [id, c.cursor]), [['a', 5], ['b', 5], ['n', 1]]);
  assert.deepEqual(events.map((e) => e.type), ['conversations', 'conversations', 'conversations', 'synced']);
});

test('rounds are bounded', async () => {
  const { sync, requests } = fakeServer({ conversations: { a: { cursor: 0, last: 10_000 } }, page: 1 });
  await sync.resync();
  assert.equal(requests.length, SYNC_ROUNDS);
});

test('calls during a sync share it and make it run once more', async () => {
  const { sync, requests, events, hold } = fakeServer({ conversations: { a: { cursor: 0, last: 1 } } });
  let open;
  hold(new Promise((resolve) => (open = resolve)));
  const first = sync.resync();
  assert.equal(sync.resync(), first);
  assert.equal(sync.resync(), first);
  assert.equal(requests.length, 1);
  hold(null);
  open();
  await first;
  assert.equal(requests.length, 2, 'one more round for both calls');
  assert.equal(events.filter((e) => e.type === 'synced').length, 1);
});

test('OFFLINE ends a sync quietly; other failures are reported', async () => {
  for (const [error, reported] of [
    [new ConfabError('OFFLINE', 'not connected'), false],
    [new ConfabError('TIMEOUT', 'sync timed out'), true],
  ]) {
    const events = [];
    const sync = new Sync({
      conversationIds: () => ['a'],
      cursor: () => 0,
      request: () => Promise.reject(error),
      addConversation: () => {},
      apply: () => true,
      isOnline: () => true,
      emit: (type, detail) => events.push({ type, detail }),
    });
    await sync.resync();
    assert.deepEqual(events.map((e) => e.type), reported ? ['error', 'synced'] : ['synced']);
    assert.equal(sync.syncing, null);
  }
});
