// Delivery statuses of one's own messages: the rule the server applies (crates/core
// `own_message_status`) and the client's reduction of per-member markers to it.
//
// The rule, shared with the server and pinned by the cases in spec/own_message_status.json
// (run by crates/core/tests/own_message_status.rs and web/test/unit/status.test.js):
//
//   Given the lowest delivered and the lowest read marker over the *other* members of the
//   conversation (null when there are none), a message with sequence number `seq` is
//   `read` when the lowest read marker is >= seq, else `delivered` when the lowest delivered
//   marker is >= seq, else `sent`.

/** @typedef {import('./types/proto.js').MessageStatus} WireStatus */

/**
 * A status as the SDK spells it: the server's three in lowercase plus the two that exist only on
 * this device (`pending`: not acknowledged yet, `failed`: given up on).
 * @typedef {'failed' | 'pending' | 'sent' | 'delivered' | 'read'} Status
 */

/** @type {Record<Status, number>} */
const STATUS_RANK = { failed: 0, pending: 1, sent: 2, delivered: 3, read: 4 };

/**
 * The later of two delivery statuses of one's own message (a status never goes backwards).
 * @param {Status | undefined} a
 * @param {Status | undefined} b
 * @returns {Status | undefined}
 */
export function maxStatus(a, b) {
  if (!a) return b;
  if (!b) return a;
  return STATUS_RANK[b] > STATUS_RANK[a] ? b : a;
}

/**
 * Server statuses (SENT/DELIVERED/READ) as SDK statuses (sent/delivered/read).
 * @param {WireStatus | Status | null | undefined} status
 * @returns {Status | undefined}
 */
export function normalizeStatus(status) {
  return typeof status === 'string' ? /** @type {Status} */ (status.toLowerCase()) : undefined;
}

/**
 * The shared rule (see the top of this file): the status of one's own message `seq` from the other
 * members' lowest delivered and read markers, `null` when there are no other members.
 * @param {number} seq
 * @param {number | null} minDelivered
 * @param {number | null} minRead
 * @returns {'sent' | 'delivered' | 'read'}
 */
export function ownMessageStatus(seq, minDelivered, minRead) {
  if (minRead !== null && minRead >= seq) return 'read';
  if (minDelivered !== null && minDelivered >= seq) return 'delivered';
  return 'sent';
}

/**
 * One member's receipt markers as this device has seen them (highest sequence numbers).
 * @typedef {{ delivered: number, read: number }} Marker
 */

/**
 * The status of one's own message with sequence `seq`, given the other members' markers: the
 * lowest markers over `otherIds` (a member with no marker counts as 0; having read a message
 * implies having received it) fed to {@link ownMessageStatus}.
 * @param {number} seq
 * @param {string[]} otherIds
 * @param {Record<string, Partial<Marker>>} markers
 * @returns {'sent' | 'delivered' | 'read'}
 */
export function statusFromMarkers(seq, otherIds, markers) {
  if (!otherIds.length) return ownMessageStatus(seq, null, null);
  let delivered = Infinity;
  let read = Infinity;
  for (const id of otherIds) {
    const m = markers[id] || {};
    read = Math.min(read, m.read || 0);
    delivered = Math.min(delivered, Math.max(m.delivered || 0, m.read || 0));
  }
  return ownMessageStatus(seq, delivered, read);
}
