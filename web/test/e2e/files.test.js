// The server serves the whole web client: every script in web/ (the app, confab.js and each SDK
// module, web/sdk-*.js, as found on disk), with a JavaScript content type and exactly the bytes in
// the repository; and every SDK module is part of the SDK (reachable from confab.js).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, WEB_DIR } from './harness.js';

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.stop();
});

test('every web/*.js is served as JavaScript, byte for byte', async () => {
  const scripts = readdirSync(WEB_DIR).filter((f) => f.endsWith('.js'));
  assert.ok(scripts.includes('confab.js') && scripts.includes('sdk-client.js'), `unexpected web/: ${scripts}`);
  assert.ok(scripts.filter((f) => f.startsWith('sdk-')).length > 1, `no SDK modules found in web/: ${scripts}`);
  for (const name of scripts) {
    const response = await fetch(`${server.url}/${name}`);
    assert.equal(response.status, 200, `/${name}: not served (add it to FILES in crates/server/src/web.rs)`);
    assert.match(response.headers.get('content-type') || '', /^text\/javascript/, `/${name}: content type`);
    assert.equal(await response.text(), readFileSync(join(WEB_DIR, name), 'utf8'), `/${name}: stale copy`);
  }
});

test('every module the SDK imports is one of the served scripts', async () => {
  const scripts = readdirSync(WEB_DIR).filter((f) => f.endsWith('.js'));
  for (const name of scripts) {
    const source = readFileSync(join(WEB_DIR, name), 'utf8');
    for (const [, target] of source.matchAll(/^\s*(?:import|export)\s[^'"]*from\s+'\.\/([^']+)'/gm)) {
      assert.ok(scripts.includes(target), `${name} imports ./${target}, which is not a web/*.js file`);
    }
  }
});

test('every web/sdk-*.js is imported, directly or not, by confab.js', () => {
  const imports = (/** @type {string} */ name) =>
    [...readFileSync(join(WEB_DIR, name), 'utf8').matchAll(/^\s*(?:import|export)\s[^'"]*from\s+'\.\/([^']+)'/gm)].map(
      (m) => m[1],
    );
  const reached = new Set(['confab.js']);
  const queue = ['confab.js'];
  while (queue.length) {
    for (const target of imports(queue.pop())) {
      if (!reached.has(target)) {
        reached.add(target);
        queue.push(target);
      }
    }
  }
  const modules = readdirSync(WEB_DIR).filter((f) => /^sdk-.*\.js$/.test(f));
  for (const name of modules) assert.ok(reached.has(name), `web/${name} is not imported by the SDK (confab.js)`);
});
