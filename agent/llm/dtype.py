"""Which torch dtype a model runs in, chosen from the hardware it loads on.

bf16 halves memory traffic, but only a CPU with native bf16 arithmetic (AVX512_BF16 or AMX) computes it fast; one
with AVX2 only emulates it, and a 400-token SmolLM2 prefill then runs at 60 tok/s in bf16 against 296 tok/s in fp32
(PLATFORM.md). So: bf16 where the CPU has it, fp32 on every other CPU, and bf16 (or fp16 where bf16 is missing) on a
GPU. `WHYREC_DTYPE` overrides the choice for inference and training alike.

On a CPU that runs fp32, dynamic int8 Linear layers (`WHYREC_QUANTIZE`, `choose_quantize`) cut a decode step 2.5-3.5x
(README, issue 14); a bf16 CPU or a GPU keeps its dtype.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from functools import cache
from pathlib import Path

NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo names of the two ways a CPU computes bf16


@dataclass(frozen=True)
class CpuInfo:
    model: str
    flags: frozenset[str]

    @property
    def native_bf16(self) -> bool:
        return any(flag in self.flags for flag in NATIVE_BF16_FLAGS)

    @property
    def capability(self) -> str:
        """The widest vector extension, plus the bf16 flag that matters: 'avx512+avx512_bf16', 'avx2', …"""
        widest = next((name for name in ("avx512f", "avx2", "avx", "neon", "asimd") if name in self.flags), "baseline")
        bf16 = [flag for flag in NATIVE_BF16_FLAGS if flag in self.flags]
        return "+".join([widest.removesuffix("f"), *bf16])


def parse_cpuinfo(text: str) -> CpuInfo:
    """The first processor's model name and flags from /proc/cpuinfo text (x86 'flags', Arm 'Features')."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    flags = fields.get("flags") or fields.get("Features") or ""
    return CpuInfo(fields.get("model name") or platform.processor() or "unknown", frozenset(flags.split()))


@cache  # read once per process: every model load asks
def cpu_info() -> CpuInfo:
    try:
        return parse_cpuinfo(Path("/proc/cpuinfo").read_text())
    except OSError:  # not Linux: no flags known, so no bf16 claimed
        return CpuInfo(platform.processor() or "unknown", frozenset())


def choose_dtype(setting: str, device: str, cpu: CpuInfo | None = None, gpu_bf16: bool | None = None) -> str:
    """The torch dtype name to load weights in. An explicit setting wins; `auto` decides by device.

    device is resolved already ('cpu' or 'cuda…'); `cpu`/`gpu_bf16` are looked up when not given (tests pass them).
    """
    if setting != "auto":
        return setting
    if device.startswith("cuda"):
        if gpu_bf16 is None:
            import torch

            gpu_bf16 = torch.cuda.is_bf16_supported()
        return "bfloat16" if gpu_bf16 else "float16"
    return "bfloat16" if (cpu or cpu_info()).native_bf16 else "float32"


def choose_quantize(setting: str, device: str, dtype: str) -> str:
    """'int8' or 'none'. An explicit setting wins; `auto` quantises an fp32 model on the CPU (torch's dynamic int8
    kernels exist only there) and nothing else."""
    if setting != "auto":
        return setting
    return "int8" if device == "cpu" and dtype == "float32" else "none"
