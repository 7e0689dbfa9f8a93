#!/usr/bin/env bash
# Broadcast to 1,000 members through Redis: the Rust server vs Daphne + channels_redis, on the same
# machine, with the same load generator (`channels-bench broadcast`), each on a fresh redis-server of
# its own. Not a test: figures for BENCHMARKS.md.
#
#   scripts/bench_django.sh                 # 3 repetitions (about 4 minutes after the build)
#   REPS=1 scripts/bench_django.sh          # one repetition
#   IMPLS=django scripts/bench_django.sh    # some sides only (rust, memory, django)
#   OUT=DIR scripts/bench_django.sh         # logs and results (default target/bench/django-<timestamp>)
#   BUILD=0 scripts/bench_django.sh         # use the release binaries already built
#   SENDERS=32 INFLIGHT=32 scripts/bench_django.sh
#                                           # 32 connections send in turn (a room where many talk): their
#                                           # group sends run concurrently on the server (default 1)
#
# Both sides speak the generator's protocol, the seed's Group chat (each text T reaches every member,
# the sender included, as "[user] T"), through the layer:
# - rust:   examples/chat.rs with --redis (RedisLayer, channels_redis's defaults and wire format);
# - memory: the same examples/chat binary without --redis (InMemoryLayer), same generator command:
#           the reference for what the Redis layer adds per delivery (rust/memory);
# - django: Daphne serving tests/interop/django_project, its Channels 4 consumer at /ws/bench/
#           (chat/bench.py: `groups = ["chat"]`, group_send of {"type": "chat.message", ...}),
#           CHANNEL_LAYERS the default RedisChannelLayer.
# The server is pinned to CPU 0, the generator to CPU 1; redis-server is left to the scheduler. The
# generator reports the server's CPU time per delivery (--server-pid) besides deliveries/s and
# latency; redis-server's CPU time is read from /proc at the end of each run.
#
# Every run is bounded: each generator call has --timeout; every process this script starts is killed
# when its run ends or the script exits.
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=${REPS:-3}
MEMBERS=${MEMBERS:-1000}
RUST_MSGS=${RUST_MSGS:-1000}
DJANGO_MSGS=${DJANGO_MSGS:-100}   # Daphne is one Python process: fewer messages keep a run near a minute
INFLIGHT=${INFLIGHT:-32}
SENDERS=${SENDERS:-1}
IMPLS=${IMPLS:-rust memory django}
# Seconds deliveries may pause before a run counts as stalled. Daphne drains the generator's probe
# backlog (each probe goes to every member) slowly enough to pause past the generator's default 3 s.
QUIET=${QUIET:-30}
OUT=${OUT:-target/bench/django-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
# shellcheck source=lib/bench_common.sh
source scripts/lib/bench_common.sh
bench_setup chat

start_server() { # impl log -> PORT, SERVER_PID, URL
    PORT=$(free_port)
    if [ "$1" = memory ]; then
        # The Rust example on its in-memory layer (its redis-server from `start_redis` stays idle).
        RUST_LOG=warn taskset -c 0 "$BIN/examples/chat" --bind "127.0.0.1:$PORT" >"$2" 2>&1 &
        SERVER_PID=$!
        PIDS+=("$SERVER_PID")
        wait_port "$PORT" "$SERVER_PID" "$2"
    else
        spawn_server "$1" chat "$PORT" "$2"
    fi
    case "$1" in
        rust | memory) URL="ws://127.0.0.1:$PORT/" ;;
        django) URL="ws://127.0.0.1:$PORT/ws/bench/" ;;
    esac
}

FAILED=0
run() { # impl messages rep
    local impl=$1 msgs=$2 rep=$3 log="$OUT/$1.$3"
    start_redis "$log.redis.log"
    start_server "$impl" "$log.server.log"
    measure "$impl" "$log.out" --url "$URL" -n "$MEMBERS" -m "$msgs" --payload 64 --inflight "$INFLIGHT" \
        --senders "$SENDERS" --quiet "$QUIET" --timeout 150 --server-pid "$SERVER_PID"
    tail -n 1 "$log.out" >>"$OUT/$impl.jsonl"
    echo "{\"impl\": \"$impl\", \"rep\": $rep, \"redis_cpu_s\": $REDIS_CPU}" >>"$OUT/redis_cpu.jsonl"
    check_run "$impl" "$log.out"
}

for rep in $(seq "$REPS"); do
    echo "== broadcast through Redis: $MEMBERS members, in flight <= $INFLIGHT, $SENDERS sender(s) (rep $rep/$REPS)"
    for impl in $IMPLS; do
        case "$impl" in
            rust) run rust "$RUST_MSGS" "$rep" ;;
            memory) run memory "$RUST_MSGS" "$rep" ;;
            django) run django "$DJANGO_MSGS" "$rep" ;;
        esac
    done
done

echo "== medians over $REPS repetitions ($OUT)"
python3 - "$OUT" <<'PY'
import json, statistics, sys
out = sys.argv[1]
rows = [
    ("deliveries/s", ("deliveries_per_s",)),
    ("server CPU per delivery (µs)", ("server_cpu_us_per_delivery",)),
    ("send-to-receive p50 (µs)", ("latency", "p50_us")),
    ("send-to-receive p99 (µs)", ("latency", "p99_us")),
    ("lost", ("lost",)),
    ("duplicated", ("duplicated",)),
]
def load(impl):
    try:
        with open(f"{out}/{impl}.jsonl") as f:
            return [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError):
        return []
def pick(record, path):
    for key in path:
        if not isinstance(record, dict) or key not in record:
            return None
        record = record[key]
    return record
impls = ("rust", "memory", "django")
data = {impl: load(impl) for impl in impls}
print(f"{'':34} {'rust':>12} {'memory':>12} {'django':>12}  rust/memory  rust/django")
for label, path in rows:
    values = {}
    for impl, records in data.items():
        xs = [v for v in (pick(r, path) for r in records) if isinstance(v, (int, float))]
        values[impl] = statistics.median(xs) if xs else None
    r, m, d = values["rust"], values["memory"], values["django"]
    ratio = lambda a, b: f"{a / b:.2f}" if a is not None and b else "-"
    fmt = lambda v: "-" if v is None else f"{v:,.1f}"
    print(f"{label:34} {fmt(r):>12} {fmt(m):>12} {fmt(d):>12}  {ratio(r, m):>11}  {ratio(r, d):>11}")
try:
    with open(f"{out}/redis_cpu.jsonl") as f:
        cpu = [json.loads(line) for line in f if line.strip()]
    for impl in ("rust", "django"):  # the memory runs' redis-server is idle
        xs = [c["redis_cpu_s"] for c in cpu if c["impl"] == impl]
        if xs:
            print(f"{'redis-server CPU per run (s) ' + impl:34} {statistics.median(xs):>12.2f}")
except OSError:
    pass
PY
exit "$FAILED"
