#!/usr/bin/env bash
# Benchmarks `channels` side by side with the floor (plain tokio-tungstenite) and Bun's server (uWebSockets)
# on the same scenarios, over loopback, server pinned to CPU 0 and the load generator to CPU 1, and prints
# ours/floor and ours/Bun ratios.
#
#   scripts/bench.sh            # the full run (about 15 minutes after the build with Bun; REPS=3: 10)
#   REPS=1 scripts/bench.sh     # one repetition of each timed scenario instead of 5
#   IMPLS="floor ours" scripts/bench.sh  # leave Bun out (it is installed from npm on first use)
#   OURS=bench scripts/bench.sh # "ours" = channels-ours (same consumers, knobs exposed) instead of the examples
#   OUT=DIR scripts/bench.sh    # where logs and results.json go (default target/bench/<timestamp>)
#   IMPLS="floor ours bun before" BEFORE_BIN=DIR scripts/bench.sh
#                               # also "before": the examples built from an earlier commit, kept in DIR
#                               # (default target/bench/before-bin: echo and chat), for before/after
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
PACED_MSGS_PER_S=${PACED_MSGS_PER_S:-5}   # paced runs last this many seconds: rate x seconds messages
IMPLS=${IMPLS:-floor ours bun}
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
BUN=
if [[ " $IMPLS " == *" bun "* ]]; then
    # Bun's server is uWebSockets; the npm package @oven/bun-linux-x64 carries the binary. Installed here,
    # by the benchmark script only (never by CI or the crates).
    PEERS=target/bench/peers
    BUN=$PEERS/node_modules/@oven/bun-linux-x64/bin/bun
    if [ ! -x "$BUN" ]; then
        echo "== installing Bun (npm @oven/bun-linux-x64) into $PEERS"
        mkdir -p "$PEERS"
        npm install --silent --prefix "$PEERS" @oven/bun-linux-x64 >/dev/null 2>&1 || true
    fi
    if [ -x "$BUN" ]; then
        echo "== Bun $("$BUN" --version)"
    else
        echo "== Bun could not be installed: running without it" >&2
        IMPLS=${IMPLS//bun/}
    fi
fi
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
        bun) echo "$BUN channels-bench/peers/bun-server.js --protocol $protocol --bind 127.0.0.1:$port" ;;
        before) echo "${BEFORE_BIN:-target/bench/before-bin}/$protocol --bind 127.0.0.1:$port" ;;
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
    for impl in $IMPLS; do
        run echo "$impl" echo echo -c "$ECHO_CONNS" -m "$ECHO_MSGS" --payload 32 --depth 1 --timeout 60
    done
    echo "== broadcast: $BCAST_MEMBERS members x $BCAST_MSGS msgs, in flight <= $BCAST_INFLIGHT (rep $rep/$REPS)"
    for impl in $IMPLS; do
        run broadcast "$impl" chat broadcast -n "$BCAST_MEMBERS" -m "$BCAST_MSGS" --payload 64 \
            --inflight "$BCAST_INFLIGHT" --timeout 90
    done
    # Paced (open loop): the sender sends at a fixed rate whatever the members do, as a chat's users do.
    # Members read as fast as they can; what a server loses here it loses in normal use.
    for rate in 500 1000; do
        echo "== paced: $rate msgs/s to $BCAST_MEMBERS members for ${PACED_MSGS_PER_S} s (rep $rep/$REPS)"
        for impl in $IMPLS; do
            run "paced$rate" "$impl" chat broadcast -n "$BCAST_MEMBERS" -m $((rate * PACED_MSGS_PER_S)) \
                --payload 64 --rate "$rate" --allow-loss --quiet 3 --timeout 120
        done
    done
    echo "== conns: $CONNS connections, one message each (rep $rep/$REPS)"
    for impl in $IMPLS; do
        run conns "$impl" echo conns -c "$CONNS" --hold 1 --timeout 120 --parallel-connects 128
    done
done
echo "== burst: 5000 msgs at once to 50 members"
for impl in $IMPLS; do
    run burst5000 "$impl" chat broadcast -n 50 -m 5000 --payload 64 --unbounded --allow-loss \
        --quiet 3 --timeout 90
done
echo "== conns: $CONNS connections, one message each, 4 KiB read buffer (ours = channels-ours)"
SERVER_EXTRA="--read-buffer 4096"
for impl in floor ours; do
    [[ " $IMPLS " == *" $impl "* ]] || continue
    run conns4k "$impl" echo conns -c "$CONNS" --hold 1 --timeout 120 --parallel-connects 128
done
SERVER_EXTRA=
echo "== overload: unbounded burst of 1000 msgs to $BCAST_MEMBERS members"
for impl in $IMPLS; do
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
def paired(name, other, *keys):
    # the implementations run back to back in each repetition: the median of the per-repetition ratios is
    # the figure least disturbed by background load that drifts between repetitions.
    fs, os_ = values(name, other, *keys), values(name, "ours", *keys)
    rs = [o / f for f, o in zip(fs, os_) if f and o is not None]
    return statistics.median(rs) if rs else None
rows = [
    ("server CPU per echo message (µs)", "echo", ("server_cpu_us_per_msg",)),
    ("  same, from schedstat (µs)", "echo", ("server_sched_us_per_msg",)),
    ("echo msgs/s (generator-bound)", "echo", ("msgs_per_s",)),
    ("echo round trip p99 (µs)", "echo", ("rtt", "p99_us")),
    ("server CPU per broadcast delivery, 1,000 members (µs)", "broadcast", ("server_cpu_us_per_delivery",)),
    ("  same, from schedstat (µs)", "broadcast", ("server_sched_us_per_delivery",)),
    ("broadcast send-to-receive p99 (µs)", "broadcast", ("latency", "p99_us")),
    ("broadcast deliveries/s", "broadcast", ("deliveries_per_s",)),
    ("broadcast lost (bounded in-flight)", "broadcast", ("lost",)),
    ("paced 500/s to 1,000: lost", "paced500", ("lost",)),
    ("paced 500/s: duplicated", "paced500", ("duplicated",)),
    ("paced 500/s: CPU per delivery (µs)", "paced500", ("server_cpu_us_per_delivery",)),
    ("paced 500/s: latency p50 (µs)", "paced500", ("latency", "p50_us")),
    ("paced 500/s: latency p99 (µs)", "paced500", ("latency", "p99_us")),
    ("paced 1,000/s to 1,000: lost", "paced1000", ("lost",)),
    ("paced 1,000/s: duplicated", "paced1000", ("duplicated",)),
    ("paced 1,000/s: CPU per delivery (µs)", "paced1000", ("server_cpu_us_per_delivery",)),
    ("paced 1,000/s: latency p50 (µs)", "paced1000", ("latency", "p50_us")),
    ("paced 1,000/s: latency p99 (µs)", "paced1000", ("latency", "p99_us")),
    ("burst 5,000 to 50: lost", "burst5000", ("lost",)),
    ("burst 5,000 to 50: receivers with every message", "burst5000", ("receivers_complete",)),
    ("RSS per connection at 10,000 conns (bytes)", "conns", ("rss_per_connection_bytes",)),
    ("connections opened per second, 10,000 (generator-bound)", "conns", ("connects_per_s",)),
    ("server CPU per connection opened (µs)", "conns", ("server_cpu_us_per_connect",)),
    ("  same, 4 KiB read buffer (bytes)", "conns4k", ("rss_per_connection_bytes",)),
    ("burst 1,000 to 1,000: deliveries (of 1,001,000)", "burst", ("deliveries",)),
    ("burst 1,000 to 1,000: receivers with every message", "burst", ("receivers_complete",)),
]
results = {}
print()
before = any(load(name, "before") for _, name, _ in rows)
print(f"{'metric':52} {'floor':>10} {'ours':>10} {'bun':>10} {'ours/floor':>10} {'ours/bun':>9}" + (f" {'before':>10} {'ours/before':>11}" if before else ""))
fmt = lambda v: "-" if v is None else (f"{v:.3f}" if isinstance(v, float) and v < 100 else f"{v:.0f}")
r3 = lambda v: "-" if v is None else f"{v:.3f}"
for label, name, keys in rows:
    f, o, b = (median(name, impl, *keys) for impl in ("floor", "ours", "bun"))
    pf, pb = paired(name, "floor", *keys), paired(name, "bun", *keys)
    line = f"{label:52} {fmt(f):>10} {fmt(o):>10} {fmt(b):>10} {r3(pf):>10} {r3(pb):>9}"
    results[f"{name}: {label.strip()}"] = {"floor": f, "ours": o, "bun": b, "ours_over_floor_paired": pf, "ours_over_bun_paired": pb}
    if before:
        w, pw = median(name, "before", *keys), paired(name, "before", *keys)
        line += f" {fmt(w):>10} {r3(pw):>11}"
        results[f"{name}: {label.strip()}"].update({"before": w, "ours_over_before_paired": pw})
    print(line)
(out / "results.json").write_text(json.dumps(results, indent=2))
print(f"\nlogs and results.json in {out}")
PY
exit "$FAILED"
