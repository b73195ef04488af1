#!/usr/bin/env bash
# The whole test command, in tiers: import contracts, the fast tier in random order (fails fast: no model decode,
# no index build beyond the session fixtures), then everything else in file order. Prints each tier's time.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
start=$SECONDS
tier() {
  local name=$1 t=$SECONDS status=0
  shift
  "$@" || status=$?
  echo "[tests] $name: $((SECONDS - t)) s (exit $status)"
  return $status
}
trap 'echo "[tests] total: $((SECONDS - start)) s"' EXIT
tier "import contracts" .venv/bin/lint-imports --no-cache
FAST="fast and not (slow or server or browser or faults or gpu)"
tier "fast tier" $PY -m pytest -m "$FAST" -x -q -p randomly -p no:cacheprovider
tier "the rest" $PY -m pytest -m "not ($FAST) and not gpu" -ra --durations=15 "$@"
