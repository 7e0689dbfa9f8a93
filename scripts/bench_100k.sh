#!/usr/bin/env bash
# A fleet of 100,000 WebSocket connections and one broadcast to all of them (issue 11, target 6).
#
# One process here may hold at most 20,000 open files (`ulimit -Hn`), so the fleet is split: SERVERS chat
# servers (`target/release/examples/chat --redis`, every member joins group "chat", a text T reaches every
# member as "[user] T") on one private redis-server (free port, no persistence), and HOLDERS load-generator
# processes (`channels-bench hold`), each with its own source address 127.0.0.x, each spreading its
# connections round-robin over every server. One more process (`channels-bench send`) probes until every
# connection is a group member, then sends one text carrying its send time; each holder notes when the text
# reached each of its connections (system clock, ns since the epoch, so processes compare). Reported:
# time to open the connections (and the rate), the broadcast's send-to-arrival p50 / p99 / last member,
# every server's RSS per connection (VmRSS before connecting and after the broadcast), redis-server's CPU
# time and memory. Not a test: figures for BENCHMARKS.md ("100,000 connections").
#
#   scripts/bench_100k.sh                        # 100,000 connections, once
#   REPS=2 scripts/bench_100k.sh                 # twice, each on fresh servers and source addresses
#   TOTAL=10000 scripts/bench_100k.sh            # a smaller fleet
#   SERVERS=6 HOLDERS=6 PARALLEL=64 TIMEOUT=420 OUT=DIR BUILD=0 scripts/bench_100k.sh
#
# Thirteen processes share the machine's cores: by default none is pinned (SERVER_CPUS=0 GEN_CPUS=1 pins the
# servers to CPU 0 and the generator processes to CPU 1, as the other scripts do; with six servers on one
# core and other work on the machine, the layer's Redis calls then miss their 5 s deadline). Each holder keeps at most PARALLEL handshakes in flight (HOLDERS x PARALLEL stays
# well below the servers' accept backlog of 1,024). Every wait has a deadline (TIMEOUT seconds per run), and
# every process started here is killed when its run ends or the script exits.
set -euo pipefail
cd "$(dirname "$0")/.."

TOTAL=${TOTAL:-100000}
SERVERS=${SERVERS:-6}
HOLDERS=${HOLDERS:-6}
REPS=${REPS:-1}
PARALLEL=${PARALLEL:-64}
TIMEOUT=${TIMEOUT:-420}
SERVER_CPUS=${SERVER_CPUS:-0,1}
GEN_CPUS=${GEN_CPUS:-0,1}
OUT=${OUT:-target/bench/100k-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
# shellcheck source=lib/bench_common.sh
source scripts/lib/bench_common.sh

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "${BUILD:-1}" = 1 ]; then
    echo "== building (release)"
    cargo build --release -q -p channels-bench
    cargo build --release -q --features redis --example chat
fi
# Private copies: other work on this tree may rebuild the example (without `redis`) while this runs.
BIN=$OUT/bin
mkdir -p "$BIN/examples"
cp target/release/channels-bench "$BIN/"
cp target/release/examples/chat "$BIN/examples/"
if ! "$BIN/examples/chat" --help | grep -q -- --redis; then
    echo "target/release/examples/chat has no --redis: build it with --features redis (or drop BUILD=0)"
    exit 2
fi
PIDS=()
trap cleanup EXIT

per_holder=$(( (TOTAL + HOLDERS - 1) / HOLDERS ))
if [ "$per_holder" -gt $(( $(ulimit -n) - 100 )) ]; then
    echo "$per_holder connections per holder is over this shell's open-file limit ($(ulimit -n)): raise HOLDERS"
    exit 2
fi

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}'; }

wait_files() { # dir suffix count deadline(epoch s) what: true once count files end in suffix
    local n
    while true; do
        n=$(find "$1" -maxdepth 1 -name "*$2" | wc -l)
        [ "$n" -ge "$3" ] && return 0
        if awk -v d="$4" -v t="$(now)" 'BEGIN {exit !(t > d)}'; then
            echo "  deadline: $n of $3 $5" >&2
            return 1
        fi
        if compgen -G "$1/*.failed" >/dev/null; then
            echo "  a holder gave up (connections closed by a server): $(cat "$1"/*.failed | tr '\n' ' ')" >&2
            return 1
        fi
        for pid in "${GEN_PIDS[@]}"; do
            if ! kill -0 "$pid" 2>/dev/null; then
                echo "  a generator process ($pid) exited before $3 $5: see $1/*.out" >&2
                return 1
            fi
        done
        sleep 0.1
    done
}

FAILED=0
run() { # rep
    local rep=$1 dir="$OUT/rep$1" k port redis_url first_url
    mkdir -p "$dir"
    start_redis "$dir/redis.log"
    redis_url="redis://127.0.0.1:$REDIS_PORT/0"
    URLS=()
    SERVER_PIDS=()
    for k in $(seq "$SERVERS"); do
        port=$(free_port)
        RUST_LOG=warn taskset -c "$SERVER_CPUS" "$BIN/examples/chat" --bind "127.0.0.1:$port" \
            --redis "$redis_url" >"$dir/server$k.log" 2>&1 &
        SERVER_PIDS+=("$!")
        PIDS+=("$!")
        wait_port "$port" "$!" "$dir/server$k.log"
        URLS+=(--url "ws://127.0.0.1:$port/")
    done
    first_url=${URLS[1]}
    sleep 1
    local rss_before=() pid
    for pid in "${SERVER_PIDS[@]}"; do rss_before+=("$(rss_kb "$pid")"); done
    local redis_cpu0 start deadline
    redis_cpu0=$(cpu_seconds "$REDIS_PID")
    start=$(now)
    deadline=$(awk -v s="$start" -v t="$TIMEOUT" 'BEGIN {printf "%.0f", s + t}')
    GEN_PIDS=()
    local left=$TOTAL count source
    for k in $(seq "$HOLDERS"); do
        count=$(( left < per_holder ? left : per_holder ))
        left=$(( left - count ))
        source="127.0.0.$(( 2 + ((rep - 1) * HOLDERS + k - 1) % 250 ))"
        taskset -c "$GEN_CPUS" "$BIN/channels-bench" hold "${URLS[@]}" -c "$count" --offset "$k" \
            --source "$source" --dir "$dir" --name "h$k" --parallel-connects "$PARALLEL" \
            --timeout "$TIMEOUT" >"$dir/h$k.out" 2>&1 &
        GEN_PIDS+=("$!")
        PIDS+=("$!")
    done
    taskset -c "$GEN_CPUS" "$BIN/channels-bench" send --url "$first_url" --dir "$dir" --holders "$HOLDERS" \
        --timeout "$TIMEOUT" >"$dir/send.out" 2>&1 &
    GEN_PIDS+=("$!")
    PIDS+=("$!")
    local ok=1 open_s="" ready_s="" done_s="" rss_open=() redis_cpu_open redis_mem_open=""
    if wait_files "$dir" .connected "$HOLDERS" "$deadline" "holders connected"; then
        open_s=$(elapsed "$start")
        echo "  [rep $rep] $TOTAL connections open after $open_s s"
    else ok=0; fi
    if [ "$ok" = 1 ] && wait_files "$dir" .ready "$HOLDERS" "$deadline" "holders ready (every connection a member)"; then
        ready_s=$(elapsed "$start")
        for pid in "${SERVER_PIDS[@]}"; do rss_open+=("$(rss_kb "$pid")"); done
        redis_mem_open=$(redis-cli -p "$REDIS_PORT" info memory | tr -d '\r' | awk -F: '$1 == "used_memory" {print $2}')
        echo "  [rep $rep] every connection a member after $ready_s s"
    else ok=0; fi
    # Every probe delivered everywhere: the sender sends the measured text within 50 ms of this.
    if [ "$ok" = 1 ] && ! wait_files "$dir" .drained "$HOLDERS" "$deadline" "holders drained of probes"; then ok=0; fi
    redis_cpu_open=$(cpu_seconds "$REDIS_PID")
    local cpu_open=() gen_cpu_open=0
    for pid in "${SERVER_PIDS[@]}"; do cpu_open+=("$(cpu_seconds "$pid")"); done
    for pid in "${GEN_PIDS[@]}"; do gen_cpu_open=$(awk -v a="$gen_cpu_open" -v b="$(cpu_seconds "$pid" 2>/dev/null || echo 0)" 'BEGIN {print a + b}'); done
    if [ "$ok" = 1 ] && wait_files "$dir" .result $((HOLDERS + 1)) "$deadline" "results (holders + sender)"; then
        done_s=$(elapsed "$start")
    else ok=0; fi
    sleep 1
    local rss_after=() redis_cpu1 group_key members
    local cpu_after=() gen_cpu_after=0
    for pid in "${GEN_PIDS[@]}"; do gen_cpu_after=$(awk -v a="$gen_cpu_after" -v b="$(cpu_seconds "$pid" 2>/dev/null || echo 0)" 'BEGIN {print a + b}'); done
    for pid in "${SERVER_PIDS[@]}"; do
        rss_after+=("$(rss_kb "$pid" 2>/dev/null || echo 0)")
        cpu_after+=("$(cpu_seconds "$pid" 2>/dev/null || echo 0)")
    done
    redis_cpu1=$(cpu_seconds "$REDIS_PID")
    redis-cli -p "$REDIS_PORT" info memory | tr -d '\r' >"$dir/redis-info-memory.txt"
    redis-cli -p "$REDIS_PORT" info stats | tr -d '\r' >"$dir/redis-info-stats.txt"
    group_key=$(redis-cli -p "$REDIS_PORT" --scan --pattern '*group*' | head -n 1)
    members=$( [ -n "$group_key" ] && redis-cli -p "$REDIS_PORT" zcard "$group_key" || echo 0)
    # Stop the servers first (their sockets take the TIME_WAITs), then release and reap the generators.
    for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${SERVER_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    touch "$dir/release"
    local status=0
    for pid in "${GEN_PIDS[@]}"; do wait "$pid" 2>/dev/null || status=1; done
    cleanup
    for f in "$dir"/h*.out "$dir"/send.out; do grep -v '^{' "$f" | sed "s/^/  [rep $rep] /"; done
    [ "$ok" = 1 ] && [ "$status" = 0 ] || FAILED=1
    python3 - "$dir" "$rep" "$TOTAL" "$SERVERS" "$start" "$open_s" "$ready_s" "$done_s" \
        "${rss_before[*]}" "${rss_open[*]:-}" "${rss_after[*]}" "$redis_cpu0" "$redis_cpu_open" "$redis_cpu1" \
        "$redis_mem_open" "$group_key" "$members" "$ok" "$status" "${cpu_open[*]}" "${cpu_after[*]}" "$gen_cpu_open" "$gen_cpu_after" \
        <<'EOF' | tee -a "$OUT/results.jsonl"
import glob, json, os, sys
(d, rep, total, servers, start, open_s, ready_s, done_s, rss0, rss_open, rss1, rc0, rc_open, rc1,
 redis_mem_open, group_key, members, ok, status, cpu_open, cpu_after, gen_open, gen_after) = sys.argv[1:]
servers = int(servers)
def load(path):
    try:
        with open(path) as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return None
holders = [load(p) for p in sorted(glob.glob(os.path.join(d, "h*.result")))]
holders = [h for h in holders if h]
connected = [load(p) for p in sorted(glob.glob(os.path.join(d, "h*.connected")))]
connected = [c for c in connected if c]
send = load(os.path.join(d, "send.result")) or {}
latencies = []
for p in glob.glob(os.path.join(d, "h*.arrivals")):
    with open(p) as f:
        latencies += [int(x) for x in f if x.strip()]
latencies.sort()
def rank(q):
    if not latencies:
        return None
    i = min(len(latencies), max(1, -(-int(q * len(latencies) * 1000) // 1000)))
    return latencies[i - 1]
per_server = [0] * servers
for h in holders:
    for i, u in enumerate(h.get("per_url", [])):
        per_server[i] += u["connections"]
per_server[0] += 1  # the sender
info = {}
with open(os.path.join(d, "redis-info-memory.txt")) as f:
    for line in f:
        if ":" in line:
            k, v = line.strip().split(":", 1)
            info[k] = v
rss0 = [int(x) * 1024 for x in rss0.split()]
rss1 = [int(x) * 1024 for x in rss1.split()]
rss_open = [int(x) * 1024 for x in rss_open.split()] if rss_open else []
open_span = None
if connected:
    open_span = (max(c["connected_ns"] for c in connected) - min(c["start_ns"] for c in connected)) / 1e9
last = max((h["arrival"]["max_ns"] or 0) for h in holders) if holders else None
record = {
    "rep": int(rep), "connections": sum(h["connected"] for h in holders) + (1 if send else 0),
    "received": sum(h["received"] for h in holders) + (1 if send.get("echo_ns") else 0),
    "missing": sum(h["missing"] for h in holders), "duplicated": sum(h["duplicated"] for h in holders),
    "failed_connects": sum(h["failed"] for h in holders),
    "holder_errors": sum(h["errors"] for h in holders),
    "open_s": round(open_span, 2) if open_span else None,
    "opens_per_s": round(sum(c["connected"] for c in connected) / open_span) if open_span else None,
    "script_open_s": float(open_s) if open_s else None, "script_ready_s": float(ready_s) if ready_s else None,
    "script_done_s": float(done_s) if done_s else None,
    "probes": send.get("probes"), "probe_s": send.get("probe_s"),
    "to_last_member_ms": round((last - send["send_ns"]) / 1e6, 1) if last and send.get("send_ns") else None,
    "p50_ms": round(rank(0.5) / 1e6, 1) if latencies else None,
    "p99_ms": round(rank(0.99) / 1e6, 1) if latencies else None,
    "first_ms": round(latencies[0] / 1e6, 1) if latencies else None,
    "sender_echo_ms": round((send["echo_ns"] - send["send_ns"]) / 1e6, 1) if send.get("echo_ns") else None,
    "per_server_connections": per_server,
    "rss_before_mib": [round(x / 2**20, 1) for x in rss0],
    "rss_open_mib": [round(x / 2**20, 1) for x in rss_open],
    "rss_after_mib": [round(x / 2**20, 1) for x in rss1],
    "rss_per_conn_open_b": [round((b - a) / max(n, 1)) for a, b, n in zip(rss0, rss_open, per_server)],
    "rss_per_conn_after_b": [round((b - a) / max(n, 1)) for a, b, n in zip(rss0, rss1, per_server)],
    "server_cpu_open_s": [round(float(x), 2) for x in cpu_open.split()],
    "server_cpu_broadcast_s": [round(float(b) - float(a), 2) for a, b in zip(cpu_open.split(), cpu_after.split())],
    "generator_cpu_open_s": round(float(gen_open), 2),
    "generator_cpu_broadcast_s": round(float(gen_after) - float(gen_open), 2),
    "redis_cpu_open_s": round(float(rc_open) - float(rc0), 2),
    "redis_cpu_broadcast_s": round(float(rc1) - float(rc_open), 2),
    "redis_cpu_s": round(float(rc1) - float(rc0), 2),
    "redis_used_memory_open_b": int(redis_mem_open) if redis_mem_open else None,
    "redis_used_memory_b": int(info.get("used_memory", 0)),
    "redis_used_memory_rss_b": int(info.get("used_memory_rss", 0)),
    "redis_used_memory_peak_b": int(info.get("used_memory_peak", 0)),
    "redis_group_key": group_key, "redis_group_members": int(members or 0),
    "ok": ok == "1" and status == "0",
}
print(json.dumps(record))
EOF
}

for rep in $(seq "$REPS"); do
    echo "== $TOTAL connections over $SERVERS chat servers on one Redis, $HOLDERS holders (rep $rep/$REPS, logs in $OUT/rep$rep)"
    run "$rep"
done
echo "results: $OUT/results.jsonl"
exit "$FAILED"
