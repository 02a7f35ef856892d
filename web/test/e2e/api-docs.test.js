// End-to-end: the REST API's browsable page (/api/v1/docs) lists every operation of the OpenAPI
// document the server serves, filters them, and expands a body's schema into its fields; the page
// loads only the server's own files (no CDN: the CSP would refuse anything else).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser } from './harness.js';

const T = 60000;
const servers = [];
let chrome;
const pageErrors = [];

after(async () => {
  await chrome?.close();
  for (const s of servers) await s.stop();
  assert.deepEqual(pageErrors, []);
});

test('the API page lists every documented operation and shows their bodies', { timeout: T }, async () => {
  const server = await startServer();
  servers.push(server);
  const doc = await fetch(`${server.url}/api/v1/openapi.json`).then((r) => r.json());
  assert.equal(doc.openapi, '3.1.0');
  const documented = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);

  chrome ??= await launchBrowser();
  const context = await chrome.browser.newContext({ viewport: { width: 1100, height: 800 } });
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  /** @type {string[]} */
  const foreign = [];
  page.on('request', (req) => {
    if (!req.url().startsWith(server.url)) foreign.push(req.url());
  });
  await page.goto(`${server.url}/api/v1/docs`);
  await page.locator('#api-docs[aria-busy=false]').waitFor({ state: 'attached' });
  assert.equal(await page.getByTestId('api-operation').count(), documented);
  assert.ok(documented > 50, `${documented} operations`);

  await page.getByTestId('api-filter').fill('/server/presence');
  const shown = page.locator('[data-testid=api-operation]:not([hidden])');
  assert.equal(await shown.count(), 1);
  assert.equal(await shown.getAttribute('data-path'), '/api/v1/server/presence');

  await page.getByTestId('api-filter').fill('');
  const send = page.locator('[data-testid=api-operation][data-method=post][data-path="/api/v1/conversations/{id}/messages"]');
  await send.locator('summary').first().click();
  const ack = send.locator('.api-answer details[data-schema=MessageAck]').first();
  await ack.locator('summary').click();
  const fields = await ack.locator(':scope > ul > li > code').allTextContents();
  assert.deepEqual(fields.sort(), ['conversationId', 'messageId', 'sequenceNumber', 'timestamp']);
  assert.deepEqual(foreign, [], 'only the server itself is asked');
  await context.close();
});
