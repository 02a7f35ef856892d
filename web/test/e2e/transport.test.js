// End-to-end: the WebSocket itself as a browser sees it, against a real server in real Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, register } from './harness.js';

const T = 60000;
let server;
let chrome;

before(async () => {
  server = await startServer();
  chrome = await launchBrowser();
});

after(async () => {
  await chrome?.close();
  await server?.stop();
});

test('a normal close is a clean close: the server answers the close frame', { timeout: T }, async () => {
  const context = await chrome.browser.newContext();
  const page = await context.newPage();
  const { token } = await register(page, server.url, `closer_${Date.now().toString(36)}`, 'Closer');
  const closed = await page.evaluate(
    (token) =>
      new Promise((resolve, reject) => {
        const url = new URL('/ws', location.href);
        url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
        url.searchParams.set('token', token);
        url.searchParams.set('device_id', 'raw-socket');
        const ws = new WebSocket(url);
        ws.onmessage = (event) => {
          if (JSON.parse(event.data).type === 'connected') ws.close(1000, 'bye');
        };
        ws.onclose = (event) => resolve({ code: event.code, wasClean: event.wasClean });
        setTimeout(() => reject(new Error('no close event within 10 s')), 10000);
      }),
    token,
  );
  assert.deepEqual(closed, { code: 1000, wasClean: true });
  await context.close();
});
