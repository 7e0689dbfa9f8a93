#!/usr/bin/env bash
# Set-up for the interop and browser tests (tests/integration/interop_*.rs, browser_*.rs) and for
# scripts/bench_django.sh; .ci/run runs it. Each step is skipped when already done, so a second run
# costs a few stat calls:
# - Debian's chromium (apt-get), when /usr/bin/chromium is missing;
# - tests/interop/browser/node_modules (npm ci: playwright-core only; it never downloads a browser),
#   when missing or older than package-lock.json;
# - the virtualenv target/interop-venv with tests/interop/requirements.txt (django, channels, daphne,
#   channels_redis, pinned), when missing or made from another requirements file.
#
#   bash tests/interop/setup.sh          # everything
#   bash tests/interop/setup.sh venv     # only the virtualenv (scripts/bench_django.sh)
set -euo pipefail
what="${1:-all}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [ "$what" = all ] && [ ! -x /usr/bin/chromium ]; then
  echo "interop set-up: installing Debian's chromium"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

browser="$here/browser"
if [ "$what" = all ] && { [ ! -f "$browser/node_modules/.package-lock.json" ] \
  || [ "$browser/package-lock.json" -nt "$browser/node_modules/.package-lock.json" ]; }; then
  echo "interop set-up: npm ci in tests/interop/browser"
  (cd "$browser" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi

venv="${CHANNELS_INTEROP_VENV:-$root/target/interop-venv}"
stamp="$venv/requirements.txt"
if ! cmp -s "$here/requirements.txt" "$stamp" || [ ! -x "$venv/bin/daphne" ]; then
  echo "interop set-up: virtualenv $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$stamp"
fi
