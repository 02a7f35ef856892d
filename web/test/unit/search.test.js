// snippetParts: a server snippet split into text and marked hits, entities decoded, no markup kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Search, snippetParts } from '../../sdk/sdk-search.js';

test('snippets split into text and marked hits, unescaped', () => {
  assert.deepEqual(snippetParts('a &lt;b&gt; <mark>Café</mark> &amp; &quot;x&quot; &#39;y&#39;<mark>z</mark>'), [
    { text: 'a <b> ', mark: false },
    { text: 'Café', mark: true },
    { text: ' & "x" \'y\'', mark: false },
    { text: 'z', mark: true },
  ]);
  assert.deepEqual(snippetParts(''), []);
  // Entities are decoded once: an escaped entity stays an entity's text.
  assert.deepEqual(snippetParts('&amp;lt;'), [{ text: '&lt;', mark: false }]);
});

test('messages() asks for the search with its options encoded', async () => {
  const calls = [];
  const search = new Search(async (method, path) => {
    calls.push([method, path]);
    return { results: [], nextCursor: null };
  });
  await search.messages('a&b "c"', { conversationId: 'c 1', limit: 5, cursor: '' });
  assert.deepEqual(calls, [['GET', '/search/messages?q=a%26b+%22c%22&conversationId=c+1&limit=5']]);
});
