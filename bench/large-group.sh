#!/usr/bin/env bash
# A large group on a cluster: 3 nodes on PostgreSQL and Redis (and, with --log, NATS JetStream;
# with --kafka, a Kafka-protocol broker),
# a group of GROUP members of whom MEMBERS are connected, spread over the nodes, RATE messages/s
# into it for DURATION seconds. Everything runs on this machine; results go to bench-results/.
#
#   bench/large-group.sh [--log | --kafka] [NAME]
#
# Environment: CONFAB_BIN (a release build with the bench feature, default
# target/release/confab), DATABASE (default postgres://postgres@127.0.0.1:5432), REDIS_URL,
# NATS_URL, KAFKA_URL (kafka://127.0.0.1:9092), GROUP (100000), MEMBERS (5000), RATE (10), DURATION (10), NODES (3). The nodes take
# bodies of 1 MiB, so the group is built in a few requests of 20,000 members each, and announce a
# 10-minute heartbeat, as connecting 5,000 members takes longer than three default intervals.
set -euo pipefail
cd "$(dirname "$0")/.."

log_url=""
case "${1:-}" in
  --log) log_url="${NATS_URL:-nats://127.0.0.1:4222}"; shift ;;
  --kafka) log_url="${KAFKA_URL:-kafka://127.0.0.1:9092}"; shift ;;
esac
name="${1:-large-group}"
bin="${CONFAB_BIN:-target/release/confab}"
database="${DATABASE:-postgres://postgres@127.0.0.1:5432}"
redis_url="${REDIS_URL:-redis://127.0.0.1:6379}"
group="${GROUP:-100000}"
members="${MEMBERS:-5000}"
rate="${RATE:-10}"
duration="${DURATION:-10}"
nodes="${NODES:-3}"
secret="large-group-bench-secret-$(date +%s)"
prefix="lgbench$(date +%s)"
db="bench_large_group"

psql "$database/postgres" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

urls=()
for i in $(seq 1 "$nodes"); do
  args=(serve --listen 127.0.0.1:0 --data-dir "$work/node$i" --database-url "$database/$db"
    --redis-url "$redis_url" --redis-prefix "$prefix" --jwt-secret "$secret"
    --max-group-size "$group" --max-frame-bytes 1048576 --heartbeat-interval-ms 600000
    --messages-per-second 100000 --message-burst 100000
    --user-messages-per-second 100000 --user-message-burst 100000)
  if [ -n "$log_url" ]; then args+=(--log-url "$log_url" --log-prefix "$prefix"); fi
  "$bin" "${args[@]}" > "$work/node$i.out" 2> "$work/node$i.err" &
  pids+=($!)
  for _ in $(seq 1 200); do
    url="$(grep -o 'confab listening on http://[0-9.:]*' "$work/node$i.out" | head -n1 | awk '{print $4}')" || true
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { cat "$work/node$i.err"; echo "node $i did not start"; exit 1; }
  urls+=(--url "$url")
done

"$bin" bench fanout "${urls[@]}" --jwt-secret "$secret" --group-size "$group" --members "$members" \
  --senders 1 --rate "$rate" --duration "$duration" --register-concurrency 64 --grace 60 \
  --out bench-results --name "$name" --no-svg
