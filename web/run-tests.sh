#!/usr/bin/env bash
# Runs the web client's checks: the type check of the SDK, the app and the service worker (`tsc
# --noEmit`, against the wire types generated from crates/proto), SDK unit tests (node --test) and
# end-to-end tests in headless Chromium against a real `confab serve`. Installs Chromium (apt) and npm dev dependencies when
# missing, builds the server binary (or uses $CONFAB_BIN), exits non-zero on any failure. Bounded: about 15 minutes at most.
set -euo pipefail
cd "$(dirname "$0")"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/confab-target}"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

if [ ! -x "$CHROMIUM" ]; then
  echo "== installing chromium"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
if ! command -v node >/dev/null; then
  echo "node is required (Node 18 or newer)" >&2
  exit 1
fi
if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/typescript ] \
  || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

echo "== type check (tsc --noEmit: SDK and app against sdk/types/proto.d.ts; the service worker)"
timeout 120 node_modules/.bin/tsc --noEmit -p tsconfig.json
timeout 120 node_modules/.bin/tsc --noEmit -p tsconfig.sw.json

echo "== the SDK as a package (npm pack; a fresh project type-checks and imports it)"
timeout 180 sdk/check-package.sh

if [ -n "${CONFAB_BIN:-}" ]; then
  echo "== using the server binary $CONFAB_BIN"
  [ -x "$CONFAB_BIN" ] || { echo "CONFAB_BIN=$CONFAB_BIN is not an executable" >&2; exit 1; }
else
  echo "== building the server (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  (cd .. && cargo build -q -p confab-cli)
  export CONFAB_BIN="$CARGO_TARGET_DIR/debug/confab"
fi

echo "== SDK unit tests"
timeout 120 node --test test/unit/

echo "== browser end-to-end tests"
rm -rf test-artifacts && mkdir -p test-artifacts
timeout 600 node --test --test-concurrency=1 --test-timeout=120000 test/e2e/
echo "== web tests passed (screenshots in web/test-artifacts/)"
