#!/usr/bin/env bash
# Same-run comparison of Confab with peers people deploy: a Socket.IO chat server (socket.io from
# npm, bench/peers/socketio/server.js) and Prosody (Debian package; XMPP over WebSocket, RFC 7395,
# with mod_mam archiving every message). Peers are installed at run time, never vendored.
#
# Every server listens on 127.0.0.1 only and is pinned to CPU 0 (taskset); the load generator is
# pinned to CPU 1. Each gets the same offered loads (RATES, PAIRS, DURATION), measured the same
# way (open loop, send time in the message, HDR histogram), and the same idle-connection ramp
# (CONNS). Server CPU and RSS come from /proc of the server process.
#
# Usage: bench/peers/run.sh [path/to/confab]     Results: bench/results/peers/ (comparison.md)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${1:-}"
if [[ -z "$bin" ]]; then
  (cd "$root" && cargo build -p confab-cli --release --features bench)
  bin="${CARGO_TARGET_DIR:-$root/target}/release/confab"
fi
RATES="${RATES:-1000,2000,5000,10000}"
PAIRS="${PAIRS:-50}"
DURATION="${DURATION:-5}"
CONNS="${CONNS:-5000}"
SYSTEMS="${SYSTEMS:-confab socketio xmpp}"
XMPP_PORT="${XMPP_PORT:-5290}"
out="$root/bench/results/peers"
mkdir -p "$out"
work="$(mktemp -d /tmp/confab-peers.XXXXXX)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- install the peers from their registries ---
if [[ " $SYSTEMS " == *" socketio "* && ! -d "$here/socketio/node_modules/socket.io" ]]; then
  (cd "$here/socketio" && npm install --no-audit --no-fund --omit=dev --silent)
fi
if [[ " $SYSTEMS " == *" xmpp "* ]] && ! command -v prosody >/dev/null; then
  apt-get install -y -qq prosody >/dev/null
fi
# The Debian package starts a system Prosody; only ours should run.
if command -v service >/dev/null && [[ -e /etc/init.d/prosody ]]; then service prosody stop >/dev/null 2>&1 || true; fi

# Starts "$@" pinned to CPU 0 in the background; waits for a line "… listening on URL" or a port.
start() {
  local name="$1"; shift
  taskset -c 0 "$@" >"$work/$name.out" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 300); do
    url="$(sed -n 's/.* listening on \(http:\/\/[0-9.:]*\).*/\1/p' "$work/$name.out" | head -1)"
    [[ -n "$url" ]] && return 0
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/$name.out" >&2; return 1; }
    sleep 0.1
  done
  echo "$name did not start" >&2; cat "$work/$name.out" >&2; return 1
}

stop() {
  kill "$server_pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

bench() {
  echo "+ confab bench $*" >&2
  taskset -c 1 "$bin" bench "$@" --client-cpus 1 --out "$out" --quiet
}

for system in $SYSTEMS; do
  case "$system" in
    confab)
      start confab "$bin" serve --listen 127.0.0.1:0 --data-dir "$work/confab-data" --log warn \
        --messages-per-second 1000000 --message-burst 1000000 --max-connections 100000
      target=(--system confab --url "$url") ;;
    socketio)
      start socketio env PORT=0 LOG_FILE="$work/socketio-messages.log" node "$here/socketio/server.js"
      target=(--system socketio --url "$url") ;;
    xmpp)
      mkdir -p "$work/prosody/data"
      sed -e "s|@DIR@|$work/prosody|g" -e "s|@PORT@|$XMPP_PORT|g" "$here/prosody/prosody.cfg.lua.in" \
        >"$work/prosody/prosody.cfg.lua"
      taskset -c 0 prosody --config "$work/prosody/prosody.cfg.lua" >"$work/xmpp.out" 2>&1 &
      server_pid=$!
      for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$XMPP_PORT") 2>/dev/null && break
        sleep 0.1
      done
      url="ws://127.0.0.1:$XMPP_PORT/xmpp-websocket"
      target=(--system xmpp --url "$url" --xmpp-domain localhost) ;;
    *) echo "unknown system $system" >&2; exit 2 ;;
  esac
  bench latency "${target[@]}" --server-pid "$server_pid" --pairs "$PAIRS" --rate "$RATES" \
    --duration "$DURATION" --warmup 1 --grace 5 --name "latency-$system"
  bench connections "${target[@]}" --server-pid "$server_pid" --connections "$CONNS" --per-user 100 \
    --spread 16 --name "connections-$system"
  stop
done

node "$here/compare.js" "$out" | tee "$out/comparison.md"
