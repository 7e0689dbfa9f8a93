#!/usr/bin/env bash
# Runs every fuzz target for a bounded time, one at a time, and prints one summary line per target.
#
#   fuzz/run.sh [SECONDS] [TARGET...]      (from anywhere; default 120 s, every target)
#
# Waits while a benchmark (scripts/bench.sh) runs: both would compete for the same cores. The
# redis_codec target needs a Redis (see fuzz/README.md) and is skipped without one. Logs go to
# fuzz/logs/<target>.log; crashes to fuzz/artifacts/<target>/.
set -euo pipefail

cd "$(dirname "$0")"
seconds="${1:-120}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(names router reply_dict handshake redis_codec)
fi
mkdir -p logs

for target in "${targets[@]}"; do
    if [ "$target" = redis_codec ] \
        && ! redis-cli -u "${CHANNELS_FUZZ_REDIS:-redis://127.0.0.1:6399/}" ping >/dev/null 2>&1; then
        echo "$target: skipped (no Redis; see fuzz/README.md)"
        continue
    fi
    while pgrep -f scripts/bench.sh >/dev/null; do
        echo "waiting for a benchmark to finish..."
        sleep 30
    done
    args=(-max_total_time="$seconds")
    [ -f "dicts/$target.dict" ] && args+=(-dict="dicts/$target.dict")
    corpora=("corpus/$target")
    [ -d "seeds/$target" ] && corpora+=("seeds/$target")
    mkdir -p "corpus/$target"
    status=0
    cargo +nightly fuzz run "$target" "${corpora[@]}" -- "${args[@]}" >"logs/$target.log" 2>&1 || status=$?
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "logs/$target.log" | tail -1 || true)
    echo "$target: exit $status; $done_line; corpus $(find "corpus/$target" -type f | wc -l) files, $(du -sb "corpus/$target" | cut -f1) bytes"
done
