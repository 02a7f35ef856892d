// Links in message text: http, https and mailto addresses become <a> elements, everything else
// stays text. The DOM is built from text nodes and elements (never HTML parsed from user text), so
// markup in a message is shown as typed, and only these three schemes can ever be a link target.

const SCHEMES = new Set(['http:', 'https:', 'mailto:']);
/** Candidates: a scheme we allow, then anything up to whitespace or a character that ends a URL in prose. */
const CANDIDATE = /\b(?:https?:\/\/|mailto:)[^\s<>"]+/gi;
/** Punctuation that ends a sentence rather than the address ("see https://x.org." keeps the dot out). */
const TRAILING = /[.,;:!?'*_~]+$/;

/**
 * The address a candidate really is: trailing sentence punctuation and an unbalanced closing
 * bracket (the address was written in parentheses) are left out.
 * @param {string} raw
 */
function trimCandidate(raw) {
  let s = raw;
  for (;;) {
    const before = s;
    s = s.replace(TRAILING, '');
    for (const [open, close] of [['(', ')'], ['[', ']']]) {
      if (s.endsWith(close) && s.split(close).length > s.split(open).length) s = s.slice(0, -1);
    }
    if (s === before) return s;
  }
}

/**
 * The link target for `text` when it is an allowed absolute address, else null.
 * @param {string} text
 * @returns {string | null}
 */
export function safeHref(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (!SCHEMES.has(url.protocol)) return null;
  if (url.protocol !== 'mailto:' && !url.hostname) return null;
  if (url.protocol === 'mailto:' && !/^[^@\s]+@[^@\s]+$/.test(decodeURIComponent(url.pathname))) return null;
  return url.href;
}

/**
 * `text` split into plain parts and links: [{ text }, { text, href }, …], in order.
 * @param {string} text
 * @returns {{ text: string, href?: string }[]}
 */
export function linkParts(text) {
  /** @type {{ text: string, href?: string }[]} */
  const parts = [];
  let last = 0;
  for (const m of text.matchAll(CANDIDATE)) {
    const start = m.index ?? 0;
    const candidate = trimCandidate(m[0]);
    const href = safeHref(candidate);
    if (!href) continue;
    if (start > last) parts.push({ text: text.slice(last, start) });
    parts.push({ text: candidate, href });
    last = start + candidate.length;
  }
  if (last < text.length || !parts.length) parts.push({ text: text.slice(last) });
  return parts;
}

/**
 * Replaces `el`'s content with `text`, its addresses as links that open in a new tab without
 * giving that page a handle on this one (`noopener`) or telling it where the click came from.
 * Skips the work when the element already shows exactly this text.
 * @param {HTMLElement} el
 * @param {string} text
 */
export function setLinkifiedText(el, text) {
  if (el.dataset.source === text && el.childNodes.length) return;
  el.dataset.source = text;
  el.replaceChildren(
    ...linkParts(text).map((p) => {
      if (!p.href) return document.createTextNode(p.text);
      const a = document.createElement('a');
      a.href = p.href;
      a.textContent = p.text;
      a.rel = 'noopener noreferrer';
      a.target = '_blank';
      return a;
    }),
  );
}
