// The server serves the whole web client: every script of the app in web/ and of the SDK in
// web/sdk/ (confab.js and each module, as found on disk), with a JavaScript content type and
// exactly the bytes in the repository; every SDK module is part of the SDK (reachable from
// confab.js); and the SDK stands alone (it imports nothing outside web/sdk/, so it can ship as
// its own package).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, normalize } from 'node:path';
import { startServer, WEB_DIR } from './harness.js';

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.stop();
});

/** Every script as a path under web/: the app's, then the SDK's (`sdk/…`). */
function scripts() {
  const app = readdirSync(WEB_DIR).filter((f) => f.endsWith('.js'));
  const sdk = readdirSync(join(WEB_DIR, 'sdk'))
    .filter((f) => f.endsWith('.js'))
    .map((f) => `sdk/${f}`);
  return [...app, ...sdk];
}

/** The relative modules `name` (a path under web/) imports, as paths under web/. */
function imports(name) {
  const source = readFileSync(join(WEB_DIR, name), 'utf8');
  const dir = name.includes('/') ? name.slice(0, name.lastIndexOf('/') + 1) : '';
  return [...source.matchAll(/^\s*(?:import|export)\s[^'"]*from\s+'(\.{1,2}\/[^']+)'/gm)].map((m) =>
    normalize(dir + m[1]).replaceAll('\\', '/'),
  );
}

test('every web/*.js and web/sdk/*.js is served as JavaScript, byte for byte', async () => {
  const all = scripts();
  assert.ok(all.includes('sdk/confab.js') && all.includes('sdk/sdk-client.js') && all.includes('app.js'), `unexpected: ${all}`);
  for (const name of all) {
    const response = await fetch(`${server.url}/${name}`);
    assert.equal(response.status, 200, `/${name}: not served (add it to FILES in crates/server/src/web.rs)`);
    assert.match(response.headers.get('content-type') || '', /^text\/javascript/, `/${name}: content type`);
    assert.equal(await response.text(), readFileSync(join(WEB_DIR, name), 'utf8'), `/${name}: stale copy`);
  }
});

test('every module a script imports is one of the served scripts, and the SDK imports only its own', () => {
  const all = scripts();
  for (const name of all) {
    for (const target of imports(name)) {
      assert.ok(all.includes(target), `${name} imports ${target}, which is not a served script`);
      if (name.startsWith('sdk/')) assert.ok(target.startsWith('sdk/'), `the SDK's ${name} imports ${target}, outside the SDK`);
    }
  }
});

test('every web/sdk/sdk-*.js is imported, directly or not, by confab.js', () => {
  const reached = new Set(['sdk/confab.js']);
  const queue = ['sdk/confab.js'];
  while (queue.length) {
    for (const target of imports(queue.pop())) {
      if (!reached.has(target)) {
        reached.add(target);
        queue.push(target);
      }
    }
  }
  const modules = scripts().filter((f) => /^sdk\/sdk-.*\.js$/.test(f));
  assert.ok(modules.length > 10, `${modules}`);
  for (const name of modules) assert.ok(reached.has(name), `web/${name} is not imported by the SDK (confab.js)`);
});
