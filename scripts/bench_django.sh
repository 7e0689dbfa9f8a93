#!/usr/bin/env bash
# Broadcast to 1,000 members through Redis: the Rust server vs Daphne + channels_redis, on the same
# machine, with the same load generator (`channels-bench broadcast`), each on a fresh redis-server of
# its own. Not a test: figures for BENCHMARKS.md.
#
#   scripts/bench_django.sh                 # 3 repetitions (about 4 minutes after the build)
#   REPS=1 scripts/bench_django.sh          # one repetition
#   IMPLS=django scripts/bench_django.sh    # one side only (rust, django)
#   OUT=DIR scripts/bench_django.sh         # logs and results (default target/bench/django-<timestamp>)
#   BUILD=0 scripts/bench_django.sh         # use the release binaries already built
#
# Both sides speak the generator's protocol, the seed's Group chat (each text T reaches every member,
# the sender included, as "[user] T"), through the layer:
# - rust:   examples/chat.rs with --redis (RedisLayer, channels_redis's defaults and wire format);
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
IMPLS=${IMPLS:-rust django}
# Seconds deliveries may pause before a run counts as stalled. Daphne drains the generator's probe
# backlog (each probe goes to every member) slowly enough to pause past the generator's default 3 s.
QUIET=${QUIET:-30}
OUT=${OUT:-target/bench/django-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

if [ "${BUILD:-1}" = 1 ]; then
    echo "== building (release) and the virtualenv"
    cargo build --release -q -p channels-bench
    cargo build --release -q --features redis --example chat
fi
bash tests/interop/setup.sh venv
VENV=${CHANNELS_INTEROP_VENV:-target/interop-venv}
BIN=target/release
GEN=(taskset -c 1 "$BIN/channels-bench")

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_port() { # port pid log
    for _ in $(seq 300); do
        if ! kill -0 "$2" 2>/dev/null; then
            echo "  server exited: $(tail -n 3 "$3")" >&2
            return 1
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "  nothing listens on $1 after 30 s" >&2
    return 1
}

cpu_seconds() { # pid: user+system CPU seconds from /proc
    awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"
}

start_redis() { # log -> REDIS_PORT, REDIS_PID
    REDIS_PORT=$(free_port)
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$1" 2>&1 &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    wait_port "$REDIS_PORT" "$REDIS_PID" "$1"
}

start_server() { # impl log -> PORT, SERVER_PID, URL
    PORT=$(free_port)
    local redis_url="redis://127.0.0.1:$REDIS_PORT/0"
    case "$1" in
        rust)
            RUST_LOG=warn taskset -c 0 "$BIN/examples/chat" --bind "127.0.0.1:$PORT" --redis "$redis_url" \
                >"$2" 2>&1 &
            URL="ws://127.0.0.1:$PORT/" ;;
        django)
            (cd tests/interop/django_project && CHANNELS_INTEROP_REDIS="$redis_url" PYTHONDONTWRITEBYTECODE=1 \
                exec taskset -c 0 "../../../$VENV/bin/daphne" -b 127.0.0.1 -p "$PORT" mysite.asgi:application) \
                >"$2" 2>&1 &
            URL="ws://127.0.0.1:$PORT/ws/bench/" ;;
    esac
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    wait_port "$PORT" "$SERVER_PID" "$2"
}

FAILED=0
run() { # impl messages rep
    local impl=$1 msgs=$2 rep=$3 log="$OUT/$1.$3"
    start_redis "$log.redis.log"
    start_server "$impl" "$log.server.log"
    local status=0 redis_before
    redis_before=$(cpu_seconds "$REDIS_PID")
    "${GEN[@]}" broadcast --url "$URL" -n "$MEMBERS" -m "$msgs" --payload 64 --inflight "$INFLIGHT" \
        --quiet "$QUIET" --timeout 150 --server-pid "$SERVER_PID" >"$log.out" 2>&1 || status=$?
    local redis_cpu
    redis_cpu=$(awk -v a="$redis_before" -v b="$(cpu_seconds "$REDIS_PID")" 'BEGIN {printf "%.2f", b - a}')
    cleanup
    grep -v '^{' "$log.out" | sed "s/^/  [$impl] /"
    echo "  [$impl] redis-server CPU during the run: $redis_cpu s"
    tail -n 1 "$log.out" >>"$OUT/$impl.jsonl"
    echo "{\"impl\": \"$impl\", \"rep\": $rep, \"redis_cpu_s\": $redis_cpu}" >>"$OUT/redis_cpu.jsonl"
    if [ "$status" != 0 ]; then
        echo "  [$impl] generator exited with $status (see $log.out)"
        FAILED=1
    fi
}

for rep in $(seq "$REPS"); do
    echo "== broadcast through Redis: $MEMBERS members, in flight <= $INFLIGHT (rep $rep/$REPS)"
    for impl in $IMPLS; do
        case "$impl" in
            rust) run rust "$RUST_MSGS" "$rep" ;;
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
data = {impl: load(impl) for impl in ("rust", "django")}
print(f"{'':34} {'rust':>12} {'django':>12}  rust/django")
for label, path in rows:
    values = {}
    for impl, records in data.items():
        xs = [v for v in (pick(r, path) for r in records) if isinstance(v, (int, float))]
        values[impl] = statistics.median(xs) if xs else None
    r, d = values["rust"], values["django"]
    ratio = f"{r / d:.2f}" if r is not None and d else "-"
    fmt = lambda v: "-" if v is None else f"{v:,.1f}"
    print(f"{label:34} {fmt(r):>12} {fmt(d):>12}  {ratio}")
try:
    with open(f"{out}/redis_cpu.jsonl") as f:
        cpu = [json.loads(line) for line in f if line.strip()]
    for impl in ("rust", "django"):
        xs = [c["redis_cpu_s"] for c in cpu if c["impl"] == impl]
        if xs:
            print(f"{'redis-server CPU per run (s) ' + impl:34} {statistics.median(xs):>12.2f}")
except OSError:
    pass
PY
exit "$FAILED"
