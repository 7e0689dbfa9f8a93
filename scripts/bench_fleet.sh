#!/usr/bin/env bash
# Rust-only vs mixed fleets: broadcast to 1,000 members of one tutorial chat room spread over two server
# processes sharing one Redis (channels_redis's wire format), for three fleets:
#   rust-rust     two `tutorial_chat --redis` processes (examples/tutorial_chat.rs, RedisLayer);
#   rust-django   one `tutorial_chat --redis` and one Daphne serving tests/interop/django_project
#                 (the Channels 4 tutorial's ChatConsumer, default RedisChannelLayer);
#   django-django two Daphne processes;
#   django-rust   (not in the default set) the mixed fleet with the sender on Daphne.
# Any list of `rust` and `django` joined by `-` is a fleet: `rust` alone is one process (the reference
# for what a second process costs), `rust-rust-rust` three. Fleets with Daphne send MIXED_MSGS messages,
# Rust-only fleets RUST_MSGS.
# Same machine, same load generator (`channels-bench broadcast --protocol tutorial`, members round-robin
# over the two URLs, the sender on the first), each run on a fresh redis-server of its own on a free port.
# Not a test: figures for BENCHMARKS.md ("Mixed fleets").
#
#   scripts/bench_fleet.sh                       # each fleet once (about 3 minutes after the build)
#   REPS=3 scripts/bench_fleet.sh                # three repetitions
#   FLEETS="rust-rust rust-django" scripts/bench_fleet.sh
#   OUT=DIR scripts/bench_fleet.sh               # logs and results (default target/bench/fleet-<timestamp>)
#   BUILD=0 scripts/bench_fleet.sh               # use the release binaries already built
#
# Both servers are pinned to CPU 0, the generator to CPU 1, redis-server is left to the scheduler. The
# generator reports the servers' summed CPU time per delivery and per message (--server-pid twice);
# redis-server's CPU time is read from /proc around each run. Every run is bounded: the generator has
# --timeout, and every process this script starts is killed when its run ends or the script exits.
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=${REPS:-1}
MEMBERS=${MEMBERS:-1000}
# Daphne delivers ~2,000 messages/s per process: 100 messages (100,100 deliveries) keep a run with
# Daphne near a minute; the Rust-only fleet sends more to be long enough to measure.
RUST_MSGS=${RUST_MSGS:-1000}
MIXED_MSGS=${MIXED_MSGS:-100}
INFLIGHT=${INFLIGHT:-32}
QUIET=${QUIET:-30}
ROOM=${ROOM:-bench}
FLEETS=${FLEETS:-rust-rust rust-django django-django}
OUT=${OUT:-target/bench/fleet-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
# shellcheck source=lib/bench_common.sh
source scripts/lib/bench_common.sh
bench_setup tutorial_chat

start_server() { # impl log -> SERVER_PID (appended to URLS, SERVER_PIDS)
    local port
    port=$(free_port)
    spawn_server "$1" tutorial_chat "$port" "$2"
    URLS+=(--url "ws://127.0.0.1:$port/ws/chat/$ROOM/")
    SERVER_PIDS+=(--server-pid "$SERVER_PID")
}

FAILED=0
run() { # fleet messages rep
    local fleet=$1 msgs=$2 rep=$3 log="$OUT/$1.$3"
    URLS=()
    SERVER_PIDS=()
    start_redis "$log.redis.log"
    local k=0 impl
    for impl in ${fleet//-/ }; do
        k=$((k + 1))
        start_server "$impl" "$log.server$k.log"
    done
    measure "$fleet" "$log.out" --protocol tutorial "${URLS[@]}" "${SERVER_PIDS[@]}" -n "$MEMBERS" -m "$msgs" \
        --payload 64 --inflight "$INFLIGHT" --quiet "$QUIET" --timeout 180
    tail -n 1 "$log.out" | python3 -c '
import json, sys
record = json.loads(sys.stdin.read())
record["fleet"], record["rep"], record["redis_cpu_s"] = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
print(json.dumps(record))' "$fleet" "$rep" "$REDIS_CPU" >>"$OUT/results.jsonl" || true
    check_run "$fleet" "$log.out"
}

for rep in $(seq "$REPS"); do
    echo "== broadcast through Redis, tutorial chat: $MEMBERS members over two servers, in flight <= $INFLIGHT (rep $rep/$REPS)"
    for fleet in $FLEETS; do
        case "$fleet" in
            *[!a-z-]* | -* | *- | *--*) echo "bad fleet $fleet: server kinds (rust, django) joined by -"; exit 2 ;;
            *django*) run "$fleet" "$MIXED_MSGS" "$rep" ;;
            *) run "$fleet" "$RUST_MSGS" "$rep" ;;
        esac
    done
done

echo "== medians over $REPS repetition(s) ($OUT)"
python3 - "$OUT" "$FLEETS" <<'PY'
import json, statistics, sys
out, fleets = sys.argv[1], sys.argv[2].split()
try:
    with open(f"{out}/results.jsonl") as f:
        records = [json.loads(line) for line in f if line.strip()]
except OSError:
    records = []
def pick(record, path):
    for key in path:
        if isinstance(record, list):
            if not isinstance(key, int) or key >= len(record):
                return None
        elif not isinstance(record, dict) or key not in record:
            return None
        record = record[key]
    return record
rows = [
    ("messages sent", ("messages",), 0),
    ("deliveries (of expected)", ("deliveries",), 0),
    ("expected deliveries", ("expected_deliveries",), 0),
    ("lost", ("lost",), 0),
    ("duplicated", ("duplicated",), 0),
    ("deliveries/s", ("deliveries_per_s",), 0),
    ("send-to-receive p50 (ms)", ("latency", "p50_us"), 3),
    ("send-to-receive p99 (ms)", ("latency", "p99_us"), 3),
    ("server 1 members: p99 (ms)", ("by_url", 0, "latency", "p99_us"), 3),
    ("server 2 members: p99 (ms)", ("by_url", 1, "latency", "p99_us"), 3),
    ("server 1 members: lost", ("by_url", 0, "lost"), 0),
    ("server 2 members: lost", ("by_url", 1, "lost"), 0),
    ("servers' CPU per delivery (µs)", ("server_cpu_us_per_delivery",), 0),
    ("servers' CPU per message (ms)", ("server_cpu_us_per_message",), 3),
    ("server 1 CPU (s)", ("servers", 0, "cpu_s"), 0),
    ("server 2 CPU (s)", ("servers", 1, "cpu_s"), 0),
    ("redis-server CPU (s)", ("redis_cpu_s",), 0),
]
# Each server's CPU time over the deliveries to its own members (the sender's server also relays every
# message into the layer).
for k in (0, 1):
    for r in records:
        cpu, got = pick(r, ("servers", k, "cpu_s")), pick(r, ("by_url", k, "deliveries"))
        if isinstance(cpu, (int, float)) and got:
            r[f"server{k + 1}_cpu_us_per_own_delivery"] = cpu / got * 1e6
    rows.insert(14 + k, (f"server {k + 1} CPU per own delivery (µs)", (f"server{k + 1}_cpu_us_per_own_delivery",), 0))
print(f"{'':34}" + "".join(f" {f:>14}" for f in fleets))
for label, path, scale in rows:
    line = f"{label:34}"
    for fleet in fleets:
        xs = [pick(r, path) for r in records if r.get("fleet") == fleet]
        xs = [x for x in xs if isinstance(x, (int, float))]
        if xs:
            v = statistics.median(xs) / (10 ** scale)
            exact = scale == 0 and all(isinstance(x, int) for x in xs)
            line += f" {v:>14,.0f}" if exact or abs(v) >= 100 else f" {v:>14,.2f}"
        else:
            line += f" {'-':>14}"
    print(line)
PY
exit "$FAILED"
