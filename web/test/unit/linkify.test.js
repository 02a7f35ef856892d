// Links in message text: which addresses become links, where they end, and that nothing else does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linkParts, safeHref } from '../../linkify.js';

test('http, https and mailto addresses become links; the rest stays text', () => {
  assert.deepEqual(linkParts('see https://example.org/a?b=1#c now'), [
    { text: 'see ' },
    { text: 'https://example.org/a?b=1#c', href: 'https://example.org/a?b=1#c' },
    { text: ' now' },
  ]);
  assert.deepEqual(linkParts('mail mailto:bob@example.org or http://x.test'), [
    { text: 'mail ' },
    { text: 'mailto:bob@example.org', href: 'mailto:bob@example.org' },
    { text: ' or ' },
    { text: 'http://x.test', href: 'http://x.test/' },
  ]);
  assert.deepEqual(linkParts('no links here'), [{ text: 'no links here' }]);
  assert.deepEqual(linkParts(''), [{ text: '' }]);
});

test('sentence punctuation and an enclosing bracket are not part of the address', () => {
  assert.deepEqual(linkParts('Read https://example.org.'), [
    { text: 'Read ' },
    { text: 'https://example.org', href: 'https://example.org/' },
    { text: '.' },
  ]);
  assert.deepEqual(linkParts('(https://example.org/x)'), [
    { text: '(' },
    { text: 'https://example.org/x', href: 'https://example.org/x' },
    { text: ')' },
  ]);
  const wiki = 'https://en.wikipedia.org/wiki/Rust_(programming_language)';
  assert.deepEqual(linkParts(`about ${wiki}!`), [{ text: 'about ' }, { text: wiki, href: wiki }, { text: '!' }]);
});

test('hostile text never becomes a link or markup', () => {
  for (const hostile of [
    'javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    '<img src=x onerror=alert(1)>',
    'vbscript:msgbox(1)',
    'https://',
    'mailto:',
    'mailto:javascript:alert(1)',
  ]) {
    assert.ok(linkParts(hostile).every((p) => !p.href), `${hostile} became a link`);
  }
  // An allowed address right after a hostile one links only the allowed part.
  const parts = linkParts('javascript:https://evil.test');
  assert.deepEqual(parts.filter((p) => p.href).map((p) => p.href), ['https://evil.test/']);
  assert.equal(parts.map((p) => p.text).join(''), 'javascript:https://evil.test');
  assert.equal(safeHref('javascript:alert(1)'), null);
  assert.equal(safeHref('ftp://example.org'), null);
});

test('the parts always add up to the original text', () => {
  for (const text of ['a https://b.c d', 'x'.repeat(5000) + 'https://e.f', 'http://a http://b,http://c', '😀 https://ü.example/ä']) {
    assert.equal(linkParts(text).map((p) => p.text).join(''), text);
  }
});
