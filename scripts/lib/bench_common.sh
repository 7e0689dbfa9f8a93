# shellcheck shell=bash
# What scripts/bench_django.sh and scripts/bench_fleet.sh share: building the release binaries and the
# Django virtualenv, a private redis-server on a free port, starting a Rust example or Daphne on a free
# port pinned to CPU 0, CPU time from /proc, and killing every process started here when a run ends or
# the script exits. Sourced from the repository root after `set -euo pipefail`; not run on its own.
#
# Reads BUILD (1: build first, the default). Sets VENV, BIN, GEN (the load generator pinned to CPU 1),
# PIDS (every process started, killed by `cleanup`), REDIS_PORT/REDIS_PID and SERVER_PID.

bench_setup() { # example: the `--features redis` example the Rust server runs
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    if [ "${BUILD:-1}" = 1 ]; then
        echo "== building (release) and the virtualenv"
        cargo build --release -q -p channels-bench
        cargo build --release -q --features redis --example "$1"
    fi
    bash tests/interop/setup.sh venv
    VENV=${CHANNELS_INTEROP_VENV:-target/interop-venv}
    BIN=target/release
    GEN=(taskset -c 1 "$BIN/channels-bench")
    PIDS=()
    trap cleanup EXIT
}

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
}

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

spawn_server() { # kind example port log -> SERVER_PID, once the port listens
    # kind rust: target/release/examples/<example> --redis; kind django: Daphne serving
    # tests/interop/django_project. Both use the redis-server of `start_redis`.
    local redis_url="redis://127.0.0.1:$REDIS_PORT/0"
    case "$1" in
        rust)
            RUST_LOG=warn taskset -c 0 "$BIN/examples/$2" --bind "127.0.0.1:$3" --redis "$redis_url" \
                >"$4" 2>&1 & ;;
        django)
            (cd tests/interop/django_project && CHANNELS_INTEROP_REDIS="$redis_url" PYTHONDONTWRITEBYTECODE=1 \
                exec taskset -c 0 "../../../$VENV/bin/daphne" -b 127.0.0.1 -p "$3" mysite.asgi:application) \
                >"$4" 2>&1 & ;;
        *) echo "unknown server kind $1 (rust, django)" >&2; return 1 ;;
    esac
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    wait_port "$3" "$SERVER_PID" "$4"
}

measure() { # label log generator-args... -> RUN_STATUS, REDIS_CPU
    # One bounded `channels-bench broadcast` run against the servers started for it (output in log,
    # its human lines echoed tagged with label), redis-server's CPU time around it, then every process
    # of the run stopped.
    local label=$1 log=$2 before
    shift 2
    RUN_STATUS=0
    before=$(cpu_seconds "$REDIS_PID")
    "${GEN[@]}" broadcast "$@" >"$log" 2>&1 || RUN_STATUS=$?
    REDIS_CPU=$(awk -v a="$before" -v b="$(cpu_seconds "$REDIS_PID")" 'BEGIN {printf "%.2f", b - a}')
    cleanup
    grep -v '^{' "$log" | sed "s/^/  [$label] /"
    echo "  [$label] redis-server CPU during the run: $REDIS_CPU s"
}

check_run() { # label log: after `measure`, FAILED=1 and a line if the generator failed
    if [ "$RUN_STATUS" != 0 ]; then
        echo "  [$1] generator exited with $RUN_STATUS (see $2)"
        FAILED=1
    fi
}
