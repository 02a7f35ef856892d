// The delivery-status rule shared with the server: web/sdk/sdk-status.js against the same cases as
// crates/core (spec/own_message_status.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ownMessageStatus, statusFromMarkers, normalizeStatus } from '../../sdk/confab.js';

const spec = JSON.parse(readFileSync(new URL('../../../spec/own_message_status.json', import.meta.url), 'utf8'));

test('the shared cases are there', () => {
  assert.ok(spec.cases.length >= 10, 'spec/own_message_status.json lost its cases');
  for (const s of ['SENT', 'DELIVERED', 'READ']) {
    assert.ok(spec.cases.some((c) => c.status === s), `no case expects ${s}`);
  }
});

for (const c of spec.cases) {
  test(`ownMessageStatus: ${c.name}`, () => {
    assert.equal(ownMessageStatus(c.sequence, c.minDelivered, c.minRead), normalizeStatus(c.status));
  });
}

test('statusFromMarkers reduces per-member markers to the shared rule', () => {
  for (const c of spec.cases) {
    if (c.minDelivered === null && c.minRead === null) {
      assert.equal(statusFromMarkers(c.sequence, [], {}), normalizeStatus(c.status), c.name);
      continue;
    }
    // Two members: one at exactly the lowest markers, one further ahead.
    const low = { delivered: c.minDelivered ?? 0, read: c.minRead ?? 0 };
    const high = { delivered: (c.minDelivered ?? 0) + 3, read: (c.minRead ?? 0) + 2 };
    if (low.delivered < low.read) continue; // the SDK counts a read as received (see below)
    assert.equal(statusFromMarkers(c.sequence, ['a', 'b'], { a: low, b: high }), normalizeStatus(c.status), c.name);
    assert.equal(statusFromMarkers(c.sequence, ['b', 'a'], { a: low, b: high }), normalizeStatus(c.status), c.name);
  }
  // A member's read marker implies they received the message.
  assert.equal(statusFromMarkers(4, ['a'], { a: { delivered: 0, read: 4 } }), 'read');
  assert.equal(statusFromMarkers(5, ['a', 'b'], { a: { delivered: 0, read: 5 }, b: { delivered: 6, read: 0 } }), 'delivered');
});
