#!/usr/bin/env bash
# Benchmarks `channels` against the floor (plain tokio-tungstenite) on the same scenarios, over loopback,
# server pinned to CPU 0 and the load generator to CPU 1, and prints ours/floor ratios.
#
#   scripts/bench.sh            # the full run (about 2 minutes after the build)
#   REPS=1 scripts/bench.sh     # one repetition of each timed scenario instead of 5
#   OURS=bench scripts/bench.sh # "ours" = channels-ours (same consumers, knobs exposed) instead of the examples
#   OUT=DIR scripts/bench.sh    # where logs and results.json go (default target/bench/<timestamp>)
#
# Every run is bounded: each generator call has --timeout, every server is killed when its scenario ends.
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=${REPS:-5}
OURS=${OURS:-examples}
ECHO_CONNS=${ECHO_CONNS:-50}
ECHO_MSGS=${ECHO_MSGS:-4000}
BCAST_MEMBERS=${BCAST_MEMBERS:-1000}
BCAST_MSGS=${BCAST_MSGS:-2000}
BCAST_INFLIGHT=${BCAST_INFLIGHT:-32}
CONNS=${CONNS:-10000}
OUT=${OUT:-target/bench/$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"

# Each side holds one descriptor per connection (plus a few): raise the soft limit to the hard one.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((CONNS + 100)) ]; then
    echo "ulimit -n is $(ulimit -n): too low for $CONNS connections (see BENCHMARKS.md)" >&2
    exit 2
fi

echo "== building (release)"
cargo build --release -q -p channels-bench
if [ "$OURS" != bench ]; then
    cargo build --release -q --example echo --example chat
fi
BIN=target/release
GEN=(taskset -c 1 "$BIN/channels-bench")

SERVER_EXTRA=   # extra server flags (--read-buffer N); forces channels-ours for "ours"
server_cmd() { # impl protocol port
    local impl=$1 protocol=$2 port=$3
    case "$impl" in
        floor) echo "$BIN/channels-floor --protocol $protocol --bind 127.0.0.1:$port $SERVER_EXTRA" ;;
        ours)
            if [ "$OURS" = bench ] || [ -n "$SERVER_EXTRA" ]; then
                echo "$BIN/channels-ours --protocol $protocol --bind 127.0.0.1:$port $SERVER_EXTRA"
            else
                echo "$BIN/examples/$protocol --bind 127.0.0.1:$port"
            fi ;;
    esac
}

SERVER_PID=
start_server() { # impl protocol port log
    local cmd
    cmd=$(server_cmd "$1" "$2" "$3")
    RUST_LOG=warn taskset -c 0 $cmd >"$4" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do
        grep -q "Listening on" "$4" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "server did not start: $cmd" >&2
    return 1
}
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}
trap stop_server EXIT

# Below the ephemeral range (32768-60999 here), where the clients' own ports live.
PORT=$((20000 + RANDOM % 10000))
run() { # name impl protocol generator-args...
    local name=$1 impl=$2 protocol=$3
    shift 3
    local log="$OUT/$name.$impl" tries=0
    PORT=$((PORT + 1))
    until start_server "$impl" "$protocol" "$PORT" "$log.server.log" 2>/dev/null; do
        stop_server
        tries=$((tries + 1))
        if [ "$tries" -ge 5 ]; then
            echo "  [$impl] server would not start: $(tail -n 1 "$log.server.log")"
            FAILED=1
            return 0
        fi
        PORT=$((PORT + 7))
    done
    local status=0
    "${GEN[@]}" "$@" --url "ws://127.0.0.1:$PORT/" --server-pid "$SERVER_PID" >"$log.out" 2>&1 || status=$?
    stop_server
    grep -v '^{' "$log.out" | sed "s/^/  [$impl] /"
    tail -n 1 "$log.out" >>"$OUT/$name.$impl.jsonl"
    if [ "$status" != 0 ]; then
        echo "  [$impl] generator exited with $status (see $log.out)"
        FAILED=1
    fi
}
FAILED=0

for rep in $(seq "$REPS"); do
    echo "== echo: $ECHO_CONNS conns x $ECHO_MSGS msgs (rep $rep/$REPS)"
    for impl in floor ours; do
        run echo "$impl" echo echo -c "$ECHO_CONNS" -m "$ECHO_MSGS" --payload 32 --depth 1 --timeout 60
    done
    echo "== broadcast: $BCAST_MEMBERS members x $BCAST_MSGS msgs, in flight <= $BCAST_INFLIGHT (rep $rep/$REPS)"
    for impl in floor ours; do
        run broadcast "$impl" chat broadcast -n "$BCAST_MEMBERS" -m "$BCAST_MSGS" --payload 64 \
            --inflight "$BCAST_INFLIGHT" --timeout 90
    done
done
echo "== conns: $CONNS connections, one message each"
for impl in floor ours; do
    run conns "$impl" echo conns -c "$CONNS" --hold 1 --timeout 120 --parallel-connects 128
done
echo "== conns: $CONNS connections, one message each, 4 KiB read buffer (ours = channels-ours)"
SERVER_EXTRA="--read-buffer 4096"
for impl in floor ours; do
    run conns4k "$impl" echo conns -c "$CONNS" --hold 1 --timeout 120 --parallel-connects 128
done
SERVER_EXTRA=
echo "== overload: unbounded burst of 1000 msgs to $BCAST_MEMBERS members"
for impl in floor ours; do
    run burst "$impl" chat broadcast -n "$BCAST_MEMBERS" -m 1000 --payload 64 --unbounded --allow-loss \
        --quiet 1 --timeout 90
done

python3 - "$OUT" <<'PY'
import json, statistics, sys, pathlib
out = pathlib.Path(sys.argv[1])
def load(name, impl):
    path = out / f"{name}.{impl}.jsonl"
    rows = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return rows
def values(name, impl, *keys):
    out = []
    for row in load(name, impl):
        v = row
        for k in keys:
            v = v.get(k) if isinstance(v, dict) else None
        out.append(v if isinstance(v, (int, float)) else None)
    return out
def median(name, impl, *keys):
    vs = [v for v in values(name, impl, *keys) if v is not None]
    return statistics.median(vs) if vs else None
def paired(name, *keys):
    # floor and ours run back to back in each repetition: the median of the per-repetition ratios is the
    # figure least disturbed by background load that drifts between repetitions.
    fs, os_ = values(name, "floor", *keys), values(name, "ours", *keys)
    rs = [o / f for f, o in zip(fs, os_) if f and o is not None]
    return statistics.median(rs) if rs else None
rows = [
    ("server CPU per echo message (µs)", "echo", ("server_cpu_us_per_msg",), 1.05),
    ("  same, from schedstat (µs)", "echo", ("server_sched_us_per_msg",), 1.05),
    ("echo msgs/s (generator-bound)", "echo", ("msgs_per_s",), None),
    ("echo round trip p99 (µs)", "echo", ("rtt", "p99_us"), None),
    ("server CPU per broadcast delivery, 1,000 members (µs)", "broadcast", ("server_cpu_us_per_delivery",), 1.1),
    ("  same, from schedstat (µs)", "broadcast", ("server_sched_us_per_delivery",), 1.1),
    ("broadcast send-to-receive p99 (µs)", "broadcast", ("latency", "p99_us"), 1.2),
    ("broadcast deliveries/s", "broadcast", ("deliveries_per_s",), None),
    ("broadcast lost (bounded in-flight)", "broadcast", ("lost",), None),
    ("RSS per connection at 10,000 conns (bytes)", "conns", ("rss_per_connection_bytes",), None),
    ("  same, 4 KiB read buffer (bytes)", "conns4k", ("rss_per_connection_bytes",), None),
    ("burst: deliveries (of 1,001,000)", "burst", ("deliveries",), None),
    ("burst: receivers with every message", "burst", ("receivers_complete",), None),
]
results = {}
print()
print(f"{'metric':56} {'floor':>10} {'ours':>10} {'ratio':>7} {'paired':>7}  target")
for label, name, keys, target in rows:
    f, o = median(name, "floor", *keys), median(name, "ours", *keys)
    ratio = (o / f) if (f and o is not None) else None
    pr = paired(name, *keys)
    verdict = ""
    judged = pr if pr is not None else ratio
    if target and judged is not None:
        verdict = f"<= {target}: {'met' if judged <= target else 'MISSED'}"
    if name == "conns" and o is not None:
        verdict = f"<= 6144 B: {'met' if o <= 6144 else 'MISSED'}"
    if name == "broadcast" and keys == ("lost",):
        verdict = f"0: {'met' if o == 0 else 'MISSED'}"
    fmt = lambda v: "-" if v is None else (f"{v:.3f}" if isinstance(v, float) and v < 100 else f"{v:.0f}")
    r3 = lambda v: "-" if v is None else f"{v:.3f}"
    print(f"{label:56} {fmt(f):>10} {fmt(o):>10} {r3(ratio):>7} {r3(pr):>7}  {verdict}")
    results[f"{name}: {label.strip()}"] = {"floor": f, "ours": o, "ratio_of_medians": ratio, "median_paired_ratio": pr, "target": target}
(out / "results.json").write_text(json.dumps(results, indent=2))
print(f"\nlogs and results.json in {out}")
PY
exit "$FAILED"
