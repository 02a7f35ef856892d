// Message search (`GET /search/messages`): `client.search.messages(q, opts)` resolves to a page of
// results, best first, each a message and its snippet, and `nextCursor` for the next page.
// `snippetParts` splits a snippet into plain text and marked hits, so it can be rendered with text
// nodes (and `<mark>` elements) instead of innerHTML.

/** @typedef {import('./types/proto.js').SearchResponse} SearchResponse */

/**
 * @typedef {object} SearchOptions
 * @property {string} [conversationId]  only this conversation
 * @property {string} [senderId]  only this user's messages
 * @property {number} [before]  only messages created before (ms, exclusive)
 * @property {number} [after]  only messages created after (ms, exclusive)
 * @property {number} [limit]  1–100 (default 20)
 * @property {string} [cursor]  a page's `nextCursor`: the page after it
 */

export class Search {
  /** @param {(method: string, path: string, body?: unknown) => Promise<any>} api  authenticated REST call */
  constructor(api) {
    this.api = api;
  }

  /**
   * Searches the user's conversations: words (case and accents ignored), `prefix*`,
   * `"phrases"`. An empty query is refused by the server (`INVALID_REQUEST`).
   * @param {string} q
   * @param {SearchOptions} [opts]
   * @returns {Promise<SearchResponse>}
   */
  messages(q, opts = {}) {
    const params = new URLSearchParams({ q });
    for (const key of /** @type {const} */ (['conversationId', 'senderId', 'before', 'after', 'limit', 'cursor'])) {
      const v = opts[key];
      if (v !== undefined && v !== null && v !== '') params.set(key, String(v));
    }
    return this.api('GET', `/search/messages?${params}`);
  }
}

const ENTITIES = /** @type {Record<string, string>} */ ({ '&lt;': '<', '&gt;': '>', '&amp;': '&', '&quot;': '"', '&#39;': "'" });

/** @param {string} s */
function unescape(s) {
  return s.replace(/&(lt|gt|amp|quot|#39);/g, (e) => ENTITIES[e] ?? e);
}

/**
 * A snippet as the server sends it (HTML-escaped text, hits in `<mark>…</mark>`) split into parts:
 * `{text, mark}` with the text unescaped, to put in text nodes. Any other markup stays text.
 * @param {string} snippet
 * @returns {{ text: string, mark: boolean }[]}
 */
export function snippetParts(snippet) {
  /** @type {{ text: string, mark: boolean }[]} */
  const parts = [];
  const re = /<mark>([\s\S]*?)<\/mark>/g;
  let at = 0;
  for (let m = re.exec(snippet); m; m = re.exec(snippet)) {
    if (m.index > at) parts.push({ text: unescape(snippet.slice(at, m.index)), mark: false });
    parts.push({ text: unescape(m[1]), mark: true });
    at = m.index + m[0].length;
  }
  if (at < snippet.length) parts.push({ text: unescape(snippet.slice(at)), mark: false });
  return parts;
}
