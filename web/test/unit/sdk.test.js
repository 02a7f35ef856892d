// Unit tests for the SDK's pure logic: ordering, dedup, gap detection, retry queue, backoff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Timeline, Outbox, backoffDelay, maxStatus, statusFromMarkers, MemoryStore } from '../../sdk/confab.js';

const msg = (seq, id = `m${seq}`, extra = {}) => ({
  messageId: id,
  conversationId: 'c1',
  senderId: 'u2',
  content: { type: 'text', text: `#${seq}` },
  sequenceNumber: seq,
  timestamp: 1000 + (seq ?? 0),
  ...extra,
});
const seqs = (t) => t.list().map((m) => m.sequenceNumber);

test('timeline orders by sequence number whatever the arrival order', () => {
  const t = new Timeline();
  for (const s of [3, 1, 5, 2, 4]) t.insert(msg(s));
  assert.deepEqual(seqs(t), [1, 2, 3, 4, 5]);
  assert.equal(t.syncedUpTo, 5);
  assert.equal(t.maxSeq, 5);
  assert.equal(t.minSeq, 1);
});

test('timeline deduplicates a sender\'s messageId', () => {
  const t = new Timeline();
  assert.equal(t.insert(msg(1)).added, true);
  const again = t.insert(msg(1));
  assert.equal(again.added, false);
  assert.equal(again.changed, false);
  t.insert(msg(2));
  t.insert(msg(1));
  assert.deepEqual(seqs(t), [1, 2]);
  assert.equal(t.size, 2);
});

test('messages of different senders sharing a messageId are different messages, in order', () => {
  const t = new Timeline();
  const arrivals = [
    msg(2, 'same', { senderId: 'u3', content: { type: 'text', text: 'from u3' } }),
    msg(1, 'same', { senderId: 'u2', content: { type: 'text', text: 'from u2' } }),
    msg(3, 'same', { senderId: 'me', content: { type: 'text', text: 'mine' } }),
  ];
  for (const m of arrivals) assert.equal(t.insert(m).added, true, `${m.senderId}'s message is added`);
  assert.deepEqual(
    t.list().map((m) => [m.sequenceNumber, m.senderId, m.messageId, m.content.text]),
    [
      [1, 'u2', 'same', 'from u2'],
      [2, 'u3', 'same', 'from u3'],
      [3, 'me', 'same', 'mine'],
    ],
  );
  assert.equal(t.size, 3);
  assert.equal(t.syncedUpTo, 3);
  assert.equal(t.get('u3', 'same')?.sequenceNumber, 2);
  assert.equal(t.get('u4', 'same'), undefined);
  // The same sender's duplicate is still one message.
  const again = t.insert(msg(2, 'same', { senderId: 'u3', content: { type: 'text', text: 'from u3' } }));
  assert.deepEqual(again, { added: false, changed: false, gap: false });
  assert.equal(t.size, 3);
  // Removing one sender's message leaves the others.
  assert.equal(t.remove('u2', 'same'), true);
  assert.deepEqual(t.list().map((m) => m.senderId), ['u3', 'me']);
  assert.equal(t.remove('u2', 'same'), false);
});

test('an own pending message is confirmed by its ack even when another member used its messageId', () => {
  const t = new Timeline();
  t.insert(msg(1));
  t.insert(msg(null, 'p1', { senderId: 'me', status: 'pending', localTime: 1 }));
  // Another member's message with the same messageId arrives before the ack: it is theirs.
  assert.equal(t.insert(msg(2, 'p1', { senderId: 'u2' })).added, true);
  assert.equal(t.get('me', 'p1')?.status, 'pending');
  assert.equal(t.get('me', 'p1')?.sequenceNumber, null);
  assert.deepEqual(t.list().map((m) => [m.senderId, m.messageId, m.sequenceNumber]), [
    ['u2', 'm1', 1],
    ['u2', 'p1', 2],
    ['me', 'p1', null],
  ]);
  // The ack (as the client takes it in: the local message with its sequence number).
  const r = t.insert({ ...t.get('me', 'p1'), sequenceNumber: 3, timestamp: 9, status: 'sent' });
  assert.deepEqual(r, { added: false, changed: true, gap: false });
  assert.equal(t.get('me', 'p1')?.status, 'sent');
  assert.equal(t.get('me', 'p1')?.sequenceNumber, 3);
  assert.deepEqual(t.list().map((m) => [m.senderId, m.messageId, m.sequenceNumber]), [
    ['u2', 'm1', 1],
    ['u2', 'p1', 2],
    ['me', 'p1', 3],
  ]);
  assert.equal(t.syncedUpTo, 3);
});

test('a different id at an occupied sequence number is ignored', () => {
  const t = new Timeline();
  t.insert(msg(1, 'a'));
  assert.equal(t.insert(msg(1, 'b')).added, false);
  assert.deepEqual(t.list().map((m) => m.messageId), ['a']);
});

test('gap detection: a message past the cursor reports a gap until it is filled', () => {
  const t = new Timeline();
  t.insert(msg(1));
  assert.equal(t.insert(msg(2)).gap, false);
  const r = t.insert(msg(5));
  assert.equal(r.gap, true);
  assert.equal(t.syncedUpTo, 2);
  assert.equal(t.hasGap, true);
  t.insert(msg(3));
  assert.equal(t.syncedUpTo, 3);
  assert.equal(t.hasGap, true);
  assert.equal(t.insert(msg(4)).gap, false);
  assert.equal(t.syncedUpTo, 5);
  assert.equal(t.hasGap, false);
});

test('skipTo starts a conversation from a recent window; older history is still reachable', () => {
  const t = new Timeline();
  t.skipTo(100);
  assert.equal(t.insert(msg(101)).gap, false);
  assert.equal(t.syncedUpTo, 101);
  assert.equal(t.hasOlder, true);
  t.insert(msg(99));
  assert.deepEqual(seqs(t), [99, 101]);
  assert.equal(t.syncedUpTo, 101, 'history below the cursor does not move it');
  const full = new Timeline();
  full.insert(msg(1));
  assert.equal(full.hasOlder, false);
});

test('pending messages come after confirmed ones and are confirmed in place by their ack', () => {
  const t = new Timeline();
  t.insert(msg(1));
  t.insert({ ...msg(null, 'p1', { senderId: 'me', status: 'pending', localTime: 1 }) });
  t.insert({ ...msg(null, 'p2', { senderId: 'me', status: 'pending', localTime: 2 }) });
  t.insert(msg(2));
  assert.deepEqual(t.list().map((m) => m.messageId), ['m1', 'm2', 'p1', 'p2']);
  const r = t.insert({ ...t.get('me', 'p2'), sequenceNumber: 3, status: 'sent' });
  assert.equal(r.added, false);
  assert.equal(r.changed, true);
  assert.deepEqual(t.list().map((m) => m.messageId), ['m1', 'm2', 'p2', 'p1']);
  assert.equal(t.get('me', 'p2').status, 'sent');
  assert.equal(t.syncedUpTo, 3);
  // The same message echoed by sync later changes nothing.
  assert.equal(t.insert({ ...msg(3, 'p2', { senderId: 'me', status: 'sent' }) }).changed, false);
  assert.equal(t.size, 4);
});

test('statuses only move forward', () => {
  assert.equal(maxStatus('read', 'delivered'), 'read');
  assert.equal(maxStatus('sent', 'delivered'), 'delivered');
  assert.equal(maxStatus('pending', 'sent'), 'sent');
  assert.equal(maxStatus(undefined, 'sent'), 'sent');
  const t = new Timeline();
  t.insert(msg(1, 'x', { senderId: 'me', status: 'read' }));
  t.insert(msg(1, 'x', { senderId: 'me', status: 'delivered' }));
  assert.equal(t.get('me', 'x').status, 'read');
});

test('statusFromMarkers takes the lowest marker over the other members', () => {
  const markers = { a: { delivered: 5, read: 3 }, b: { delivered: 4, read: 4 } };
  assert.equal(statusFromMarkers(3, ['a', 'b'], markers), 'read');
  assert.equal(statusFromMarkers(4, ['a', 'b'], markers), 'delivered');
  assert.equal(statusFromMarkers(5, ['a', 'b'], markers), 'sent');
  assert.equal(statusFromMarkers(1, ['a', 'c'], markers), 'sent', 'a member with no marker holds it back');
  assert.equal(statusFromMarkers(1, [], markers), 'sent', 'no other members: nobody to receive it');
});

test('outbox sends in order, resends after the ack timeout and fails after the bound', () => {
  const o = new Outbox({ ackTimeout: 100, maxAttempts: 3 });
  o.add({ messageId: 'a' }, 0);
  o.add({ messageId: 'b' }, 0);
  let r = o.take(0);
  assert.deepEqual(r.send.map((m) => m.messageId), ['a', 'b']);
  assert.deepEqual(o.take(50).send, [], 'nothing is resent before the ack timeout');
  assert.equal(o.nextDue(), 100);
  o.ack('b');
  r = o.take(100);
  assert.deepEqual(r.send.map((m) => m.messageId), ['a'], 'the same messageId is retried');
  r = o.take(200);
  assert.deepEqual(r.send.map((m) => m.messageId), ['a']);
  r = o.take(300);
  assert.deepEqual(r.send, []);
  assert.deepEqual(r.failed.map((m) => m.messageId), ['a']);
  assert.equal(o.nextDue(), null);
  assert.deepEqual(o.take(10_000), { send: [], failed: [] }, 'a failed message is not retried by itself');
  assert.equal(o.retry('a', 400), true);
  assert.deepEqual(o.take(400).send.map((m) => m.messageId), ['a']);
  assert.ok(o.ack('a'));
  assert.equal(o.ack('a'), undefined);
  assert.equal(o.entries.size, 0);
});

test('outbox: a dropped connection makes in-flight messages due at once; offline waits are free', () => {
  const o = new Outbox({ ackTimeout: 1000, maxAttempts: 2 });
  o.add({ messageId: 'a' }, 0);
  o.take(0);
  o.disconnected();
  assert.deepEqual(o.take(1).send.map((m) => m.messageId), ['a']);
  // Waiting while offline (no take calls) costs no attempts: still pending after a long time.
  o.disconnected();
  assert.equal(o.pending().length, 1);
  const r = o.take(1_000_000);
  assert.deepEqual(r.failed.map((m) => m.messageId), ['a']);
});

test('outbox: rate limiting delays without spending an attempt; permanent errors fail', () => {
  const o = new Outbox({ ackTimeout: 100, maxAttempts: 1 });
  o.add({ messageId: 'a' }, 0);
  o.add({ messageId: 'b' }, 0);
  o.take(0);
  o.delay('a', 5000);
  assert.deepEqual(o.take(4999).send.map((m) => m.messageId), []);
  assert.deepEqual(o.take(5000).send.map((m) => m.messageId), ['a']);
  o.fail('b');
  assert.deepEqual(o.pending().map((m) => m.messageId), ['a']);
});

test('backoff grows exponentially, is jittered and bounded', () => {
  const opts = { base: 500, max: 8000 };
  assert.equal(backoffDelay(0, opts, () => 0), 125);
  assert.equal(backoffDelay(0, opts, () => 1), 500);
  assert.equal(backoffDelay(3, opts, () => 1), 4000);
  assert.equal(backoffDelay(10, opts, () => 1), 8000);
  assert.equal(backoffDelay(50, opts, () => 1), 8000);
  const seen = new Set();
  for (let i = 0; i < 50; i++) {
    const d = backoffDelay(4, opts);
    assert.ok(d >= 125 && d <= 8000, `delay ${d} out of bounds`);
    seen.add(d);
  }
  assert.ok(seen.size > 10, 'delays are jittered');
});

test('memory store keeps messages of different senders sharing a messageId apart', async () => {
  const s = new MemoryStore();
  await s.putMessages([msg(1, 'same', { senderId: 'u2' }), msg(2, 'same', { senderId: 'u3' })]);
  await s.putMessages([msg(2, 'same', { senderId: 'u3', status: 'read' })]);
  const back = await s.getMessages('c1', 100, 10);
  assert.deepEqual(back.map((m) => [m.sequenceNumber, m.senderId, m.messageId]), [
    [1, 'u2', 'same'],
    [2, 'u3', 'same'],
  ]);
});

test('memory store returns the newest messages below a sequence, ascending', async () => {
  const s = new MemoryStore();
  await s.putMessages([1, 2, 3, 4, 5].map((n) => msg(n)));
  await s.putMessages([{ ...msg(1, 'other'), conversationId: 'c2' }]);
  assert.deepEqual((await s.getMessages('c1', 5, 2)).map((m) => m.sequenceNumber), [3, 4]);
  assert.deepEqual((await s.getMessages('c1', 100, 10)).map((m) => m.sequenceNumber), [1, 2, 3, 4, 5]);
  await s.deleteConversation('c1');
  assert.deepEqual(await s.getMessages('c1', 100, 10), []);
});
