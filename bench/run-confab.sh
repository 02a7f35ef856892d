#!/usr/bin/env bash
# Runs every Confab scenario at the documented load against a freshly spawned server pinned to
# CPU 0, with the load generator pinned to CPU 1. Reports: JSON in bench/results/, SVG in
# docs/img/bench/. Usage: bench/run-confab.sh [path/to/confab]   (default: builds it in release)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-}"
if [[ -z "$bin" ]]; then
  (cd "$root" && cargo build -p confab-cli --release --features bench)
  bin="${CARGO_TARGET_DIR:-$root/target}/release/confab"
fi
out="$root/bench/results"
img="$root/docs/img/bench"
mkdir -p "$out" "$img"
common=(--spawn-server --confab-bin "$bin" --server-cpus 0 --client-cpus 1 --out "$out")
run() { echo "+ confab bench $*" >&2; taskset -c 1 "$bin" bench "$@" "${common[@]}"; }

# Skip scenarios already measured: ONLY="connections sync store" bench/run-confab.sh
only="${ONLY:-latency fanout connections sync store}"
want() { [[ " $only " == *" $1 "* ]]; }
# Connections: one descriptor each in the server and here; stay under the open-files limit.
# The server keeps 256 descriptors for itself and one per handshake in flight (128): 19 600 at 20 000.
conns=$(( $(ulimit -Hn) < 20100 ? $(ulimit -Hn) - 400 : 20000 ))

want latency && run latency --pairs 50 --rate 1000,2000,5000,10000 --duration 10 --warmup 2
if want fanout; then
  # Rising rates into one 1000-member group. Members come from tokens minted with a throwaway
  # secret instead of 1000 argon2 registrations per run; the chart is a run at 500 msg/s.
  secret="bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  minted=(--jwt-secret "$secret" --server-arg=--jwt-secret "--server-arg=$secret")
  mkdir -p "$out/fanout"
  for rate in 100 200 300 400 500 600 800 1000; do
    run fanout --members 1000 --senders 10 --rate "$rate" --duration 10 "${minted[@]}" \
      --name "fanout/fanout-confab-$rate" --no-svg || echo "fanout at $rate msg/s failed" >&2
  done
  run fanout --members 1000 --senders 10 --rate 500 --duration 10 "${minted[@]}"
fi
want connections && run connections --connections "$conns" --per-user 100 --spread 16
want sync && run sync --messages 1000 --conversations 10 --rounds 20
want store && run store --messages 20000 --senders 8 --window 64 --rest-concurrency 32
mv "$out"/*.svg "$img"/ 2>/dev/null || true
