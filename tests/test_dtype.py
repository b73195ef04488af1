"""The dtype is chosen from the hardware: bf16 only where the CPU computes it natively, fp32 on other CPUs."""

from __future__ import annotations

import pytest

from agent.llm.dtype import choose_dtype, choose_quantize, parse_cpuinfo

pytestmark = pytest.mark.fast

SAPPHIRE_RAPIDS = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8480C
flags\t\t: fpu sse2 avx avx2 avx512f avx512bw avx512_bf16 amx_bf16 amx_tile
"""
COOPER_LAKE = "model name\t: Intel(R) Xeon(R) Gold 5320H\nflags\t: sse2 avx avx2 avx512f avx512_bf16\n"
AMX_ONLY = "model name\t: some AMX part\nflags\t: avx2 amx_bf16\n"
EPYC_AVX2 = """processor\t: 0
model name\t: AMD EPYC
flags\t\t: fpu sse2 avx fma avx2 sha_ni
processor\t: 1
model name\t: AMD EPYC
flags\t\t: fpu sse2 avx fma avx2 sha_ni
"""
SKYLAKE_AVX512_NO_BF16 = "model name\t: Intel(R) Xeon(R) Gold 6148\nflags\t: avx2 avx512f avx512bw\n"
GRAVITON = "processor\t: 0\nBogoMIPS\t: 243.75\nFeatures\t: fp asimd evtstrm aes sha2\n"


@pytest.mark.parametrize("cpuinfo, capability, dtype", [
    (SAPPHIRE_RAPIDS, "avx512+avx512_bf16+amx_bf16", "bfloat16"),
    (COOPER_LAKE, "avx512+avx512_bf16", "bfloat16"),
    (AMX_ONLY, "avx2+amx_bf16", "bfloat16"),
    (EPYC_AVX2, "avx2", "float32"),
    (SKYLAKE_AVX512_NO_BF16, "avx512", "float32"),  # AVX-512 without its BF16 extension still emulates bf16
    (GRAVITON, "asimd", "float32"),
    ("", "baseline", "float32"),  # nothing known: never claim bf16
])
def test_auto_picks_bf16_only_where_the_cpu_computes_it(cpuinfo: str, capability: str, dtype: str) -> None:
    cpu = parse_cpuinfo(cpuinfo)
    assert cpu.capability == capability
    assert choose_dtype("auto", "cpu", cpu) == dtype


def test_cpu_model_name_is_read() -> None:
    assert parse_cpuinfo(EPYC_AVX2).model == "AMD EPYC"


def test_an_explicit_setting_wins_over_the_hardware() -> None:
    assert choose_dtype("bfloat16", "cpu", parse_cpuinfo(EPYC_AVX2)) == "bfloat16"
    assert choose_dtype("float32", "cpu", parse_cpuinfo(SAPPHIRE_RAPIDS)) == "float32"


def test_gpu_uses_bf16_or_fp16() -> None:
    assert choose_dtype("auto", "cuda", gpu_bf16=True) == "bfloat16"
    assert choose_dtype("auto", "cuda:0", gpu_bf16=False) == "float16"


def test_auto_quantises_only_an_fp32_model_on_the_cpu() -> None:
    assert choose_quantize("auto", "cpu", "float32") == "int8"  # an AVX2-only CPU: int8 Linear layers
    assert choose_quantize("auto", "cpu", "bfloat16") == "none"  # native bf16 stays bf16
    assert choose_quantize("auto", "cuda", "float32") == "none"  # torch's dynamic int8 kernels are CPU-only
    assert choose_quantize("none", "cpu", "float32") == "none" and choose_quantize("int8", "cpu", "bfloat16") == "int8"


def test_the_setting_reaches_the_local_model_and_training(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.llm import build_llm
    from agent.settings import Settings
    from agent.train.loop import TrainConfig

    monkeypatch.setenv("WHYREC_DTYPE", "float32")
    llm = build_llm(Settings())
    assert llm.dtype == "float32" and llm.resolved_dtype == "float32"
    assert llm.resolved_quantize == choose_quantize(Settings().quantize, "cpu", "float32")
    assert TrainConfig(base=".", out=".").dtype == "auto"
    monkeypatch.setenv("WHYREC_DTYPE", "int3")
    with pytest.raises(ValueError, match="dtype"):
        Settings()
