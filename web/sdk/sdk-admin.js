// Reporting messages, and the server administrators' API (`/api/v1/admin`): `client.report(…)`
// and `client.admin` (an `AdminApi`). Administrators' calls reject with `FORBIDDEN` (status 403)
// for anyone else; `client.profile()` says whether the user is one (`admin: true`).

/** @typedef {import('./types/proto.js').ReportReceipt} ReportReceipt */
/** @typedef {import('./types/proto.js').ReportStatus} ReportStatus */
/** @typedef {import('./types/proto.js').ReportsResponse} ReportsResponse */
/** @typedef {import('./types/proto.js').Report} Report */
/** @typedef {import('./types/proto.js').Ban} Ban */
/** @typedef {import('./types/proto.js').AdminUsersResponse} AdminUsersResponse */
/** @typedef {import('./types/proto.js').UserSessionsResponse} UserSessionsResponse */
/** @typedef {import('./types/proto.js').AdminStats} AdminStats */
/** @typedef {(method: string, path: string, body?: unknown) => Promise<any>} Api */

/**
 * `?a=1&b=2` from the entries that have a value.
 * @param {Record<string, string | number | null | undefined>} params
 */
function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? '?' + s : '';
}

const enc = encodeURIComponent;

/**
 * `POST /reports`: reports a message (another member's, in a conversation this user is in). Give
 * `conversationId` when known: several senders may use the same messageId. Resolves to the
 * report (the first one when this user had reported the message already).
 * @param {Api} api
 * @param {{ messageId: string, reason: string, conversationId?: string }} report
 * @returns {Promise<ReportReceipt>}
 */
export function report(api, { messageId, reason, conversationId }) {
  /** @type {import('./types/proto.js').ReportRequest} */
  const body = { messageId, reason };
  if (conversationId) body.conversationId = conversationId;
  return api('POST', '/reports', body);
}

/** The administrators' API, one method per endpoint. */
export class AdminApi {
  /** @param {Api} api  authenticated REST call */
  constructor(api) {
    this.api = api;
  }

  /**
   * `GET /admin/users`: users whose username starts with `query`, with their bans.
   * @param {{ query?: string, cursor?: string | null, limit?: number }} [options]
   * @returns {Promise<AdminUsersResponse>}
   */
  users({ query: prefix = '', cursor, limit } = {}) {
    return this.api('GET', '/admin/users' + query({ query: prefix, cursor, limit }));
  }

  /**
   * `PUT /admin/users/{id}/ban`: until `until` (ms since the epoch) or until unbanned.
   * @param {string} userId
   * @param {string} reason
   * @param {number} [until]
   * @returns {Promise<Ban>}
   */
  ban(userId, reason, until) {
    /** @type {import('./types/proto.js').BanRequest} */
    const body = { reason };
    if (until !== undefined) body.until = until;
    return this.api('PUT', `/admin/users/${enc(userId)}/ban`, body);
  }

  /** `DELETE /admin/users/{id}/ban`. @param {string} userId @returns {Promise<void>} */
  async unban(userId) {
    await this.api('DELETE', `/admin/users/${enc(userId)}/ban`);
  }

  /**
   * `GET /admin/reports`: open ones oldest first, resolved ones newest first.
   * @param {{ status?: ReportStatus, cursor?: string | null, limit?: number }} [options]
   * @returns {Promise<ReportsResponse>}
   */
  reports({ status = 'open', cursor, limit } = {}) {
    return this.api('GET', '/admin/reports' + query({ status, cursor, limit }));
  }

  /**
   * `POST /admin/reports/{id}/resolve`.
   * @param {string} reportId
   * @param {string} resolution
   * @returns {Promise<Report>}
   */
  resolve(reportId, resolution) {
    return this.api('POST', `/admin/reports/${enc(reportId)}/resolve`, { resolution });
  }

  /** `GET /admin/users/{id}/sessions`. @param {string} userId @returns {Promise<UserSessionsResponse>} */
  sessions(userId) {
    return this.api('GET', `/admin/users/${enc(userId)}/sessions`);
  }

  /** `DELETE /admin/users/{id}/sessions`: signs the user out everywhere. @param {string} userId */
  async closeSessions(userId) {
    await this.api('DELETE', `/admin/users/${enc(userId)}/sessions`);
  }

  /** `DELETE /admin/users/{id}/sessions/{sessionId}`. @param {string} userId @param {string} sessionId */
  async closeSession(userId, sessionId) {
    await this.api('DELETE', `/admin/users/${enc(userId)}/sessions/${enc(sessionId)}`);
  }

  /** `GET /admin/stats`. @returns {Promise<AdminStats>} */
  stats() {
    return this.api('GET', '/admin/stats');
  }

  /**
   * `DELETE /admin/conversations/{id}/messages/{messageId}`: deletes any message for everyone.
   * @param {string} conversationId
   * @param {string} messageId
   * @param {string} [senderId] which sender's message, when several share the id
   * @returns {Promise<import('./types/proto.js').Message>} the tombstone
   */
  deleteMessage(conversationId, messageId, senderId) {
    const path = `/admin/conversations/${enc(conversationId)}/messages/${enc(messageId)}`;
    return this.api('DELETE', path + query({ senderId }));
  }
}
