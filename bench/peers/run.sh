#!/usr/bin/env bash
# Same-run comparison of Confab with peers people deploy instead: a Socket.IO chat server
# (socket.io from npm, bench/peers/socketio/server.js), Prosody and ejabberd (Debian packages; XMPP
# over WebSocket, RFC 7395, with mod_mam archiving every message) and Matrix Synapse (PyPI; the
# client-server API with /sync long polls). Peers are installed at run time, never vendored; each
# one's configuration (bench/peers/<peer>/) says what it stores and which limits are lifted.
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
RATES="${RATES:-30,300,1000,2000,5000,10000}"
PAIRS="${PAIRS:-50}"
DURATION="${DURATION:-5}"
CONNS="${CONNS:-5000}"
SYSTEMS="${SYSTEMS:-confab socketio prosody ejabberd ejabberd-mnesia synapse}"
XMPP_PORT="${XMPP_PORT:-5290}"
MATRIX_PORT="${MATRIX_PORT:-8448}"
SYNAPSE_VERSION="${SYNAPSE_VERSION:-1.163.2}"
peer_cache="${PEER_CACHE:-$HOME/.cache/confab-peers}"
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
apt_install() {
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null \
    || { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null; }
}
if [[ " $SYSTEMS " == *" prosody "* ]] && ! command -v prosody >/dev/null; then
  apt_install prosody
fi
# ejabberd keeps its message archive in SQLite (its docs' choice for small servers): the driver.
if [[ " $SYSTEMS " == *" ejabberd"* ]] && ! dpkg -s ejabberd erlang-p1-sqlite3 >/dev/null 2>&1; then
  apt_install ejabberd erlang-p1-sqlite3
fi
# The Debian packages start system servers where an init system runs; only ours should run.
for service in prosody ejabberd; do
  if command -v service >/dev/null && [[ -e /etc/init.d/$service ]]; then service $service stop >/dev/null 2>&1 || true; fi
done
if [[ " $SYSTEMS " == *" synapse "* && ! -x "$peer_cache/synapse-$SYNAPSE_VERSION/bin/python" ]]; then
  python3 -m venv "$peer_cache/synapse-$SYNAPSE_VERSION"
  "$peer_cache/synapse-$SYNAPSE_VERSION/bin/pip" install -q "matrix-synapse==$SYNAPSE_VERSION"
fi

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

# Waits until something accepts connections on 127.0.0.1:$1 (the server `$server_pid`).
wait_port() {
  for _ in $(seq 1 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$server_pid" 2>/dev/null || { cat "$2" >&2; return 1; }
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2; cat "$2" >&2; return 1
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
        --messages-per-second 1000000 --message-burst 1000000 --registrations-per-address 1000000 \
        --max-connections 100000 --max-connections-per-user 1000
      target=(--system confab --url "$url") ;;
    socketio)
      start socketio env PORT=0 LOG_FILE="$work/socketio-messages.log" node "$here/socketio/server.js"
      target=(--system socketio --url "$url") ;;
    prosody)
      mkdir -p "$work/prosody/data"
      sed -e "s|@DIR@|$work/prosody|g" -e "s|@PORT@|$XMPP_PORT|g" "$here/prosody/prosody.cfg.lua.in" \
        >"$work/prosody/prosody.cfg.lua"
      taskset -c 0 prosody --config "$work/prosody/prosody.cfg.lua" >"$work/prosody.out" 2>&1 &
      server_pid=$!
      wait_port "$XMPP_PORT" "$work/prosody.out"
      target=(--system xmpp --url "ws://127.0.0.1:$XMPP_PORT/xmpp-websocket" --xmpp-domain localhost) ;;
    ejabberd|ejabberd-mnesia)
      # What `ejabberdctl foreground` runs, as the current user with this run's config and spool;
      # erl execs into the VM, so $server_pid is the process whose CPU and memory are read.
      # ejabberd-mnesia keeps the archive in Mnesia, ejabberd's default database, instead of SQLite.
      mam_db=sql; [[ "$system" == ejabberd-mnesia ]] && mam_db=mnesia
      dir="$work/$system"
      mkdir -p "$dir/spool"
      sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$XMPP_PORT|g" -e "s|@MAM_DB@|$mam_db|g" \
        "$here/ejabberd/ejabberd.yml.in" >"$dir/ejabberd.yml"
      (cd "$dir" && EJABBERD_CONFIG_PATH="$dir/ejabberd.yml" EJABBERD_LOG_PATH="$dir/ejabberd.log" \
        ERL_LIBS=/usr/lib/x86_64-linux-gnu ERL_CRASH_DUMP_BYTES=0 exec taskset -c 0 erl +K true \
        +P 1000000 -noinput -mnesia dir "\"$dir/spool\"" -s ejabberd) >"$work/$system.out" 2>&1 &
      server_pid=$!
      wait_port "$XMPP_PORT" "$work/$system.out"
      target=(--system xmpp --url "ws://127.0.0.1:$XMPP_PORT/xmpp-websocket" --xmpp-domain localhost) ;;
    synapse)
      mkdir -p "$work/synapse"
      sed -e "s|@DIR@|$work/synapse|g" -e "s|@PORT@|$MATRIX_PORT|g" "$here/synapse/homeserver.yaml.in" \
        >"$work/synapse/homeserver.yaml"
      cp "$here/synapse/log.yaml" "$work/synapse/log.yaml"
      python="$peer_cache/synapse-$SYNAPSE_VERSION/bin/python"
      "$python" -m synapse.app.homeserver -c "$work/synapse/homeserver.yaml" --generate-keys >/dev/null
      taskset -c 0 "$python" -m synapse.app.homeserver -c "$work/synapse/homeserver.yaml" \
        >"$work/synapse.out" 2>&1 &
      server_pid=$!
      wait_port "$MATRIX_PORT" "$work/synapse.out"
      target=(--system matrix --url "http://127.0.0.1:$MATRIX_PORT") ;;
    *) echo "unknown system $system" >&2; exit 2 ;;
  esac
  bench latency "${target[@]}" --server-pid "$server_pid" --pairs "$PAIRS" --rate "$RATES" \
    --duration "$DURATION" --warmup 1 --grace 5 --stop-when-saturated --name "latency-$system"
  bench connections "${target[@]}" --server-pid "$server_pid" --connections "$CONNS" --per-user 100 \
    --spread 16 --name "connections-$system"
  stop
done

node "$here/compare.js" "$out" "$SYSTEMS" | tee "$out/comparison.md"
