"""Prompt templates are versioned data: one YAML file per variant, loaded strictly.

A template declares its inputs; the loader rejects unknown keys, variables used but not declared, and variables
declared but never used, naming them. Rendering goes through LangChain's ChatPromptTemplate (f-string), which
substitutes values without re-parsing them, so braces in catalogue text stay inert data.
"""

from __future__ import annotations

import difflib
import hashlib
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from langchain_core.messages import BaseMessage
from langchain_core.prompts import ChatPromptTemplate
from pydantic import BaseModel, ConfigDict, Field, model_validator

TEMPLATE_DIR = Path(__file__).resolve().parent


class Generation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_new_tokens: int | None = Field(None, description="overrides settings.max_new_tokens for this template")
    reason_max_chars: int = Field(160, description="maxLength of each reason's free text in the output schema")
    max_claims: int = Field(3, description="maxItems of claims per reason in the output schema")


class Template(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    version: str
    description: str
    kind: Literal["explain", "rank"]
    inputs: list[str]
    output_schema: Literal["explain_claims", "rank_order"] = Field(
        description="the reply model it asks for: a name in agent/reply_models.py REPLY_SCHEMAS")
    system: str
    context: str | None = Field(None, description="a user message between system and user for what stays the same "
                                                  "across a shopper's turns (their history): its KV cache is reused")
    user: str
    generation: Generation = Field(default_factory=Generation)

    @model_validator(mode="after")
    def _inputs_match_placeholders(self) -> Template:
        used = set(self.prompt().input_variables)
        declared = set(self.inputs)
        if used - declared:
            raise ValueError(f"template {self.id!r} uses undeclared inputs: {sorted(used - declared)}")
        if declared - used:
            raise ValueError(f"template {self.id!r} declares unused inputs: {sorted(declared - used)}")
        return self

    def prompt(self) -> ChatPromptTemplate:
        context = [("user", self.context)] if self.context else []
        return ChatPromptTemplate.from_messages([("system", self.system), *context, ("user", self.user)])

    def render(self, **values: str) -> list[BaseMessage]:
        missing = set(self.inputs) - set(values)
        if missing:
            raise ValueError(f"template {self.id!r} is missing values for {sorted(missing)}")
        return self.prompt().invoke({k: values[k] for k in self.inputs}).to_messages()


def prompt_hash(messages: list[BaseMessage]) -> str:
    """Hash of the rendered prompt (role + content), for provenance."""
    h = hashlib.sha256()
    for m in messages:
        h.update(m.type.encode() + b"\0" + str(m.content).encode() + b"\0")
    return h.hexdigest()[:16]


def load_strict_yaml(path: Path, model: type[BaseModel], what: str):
    """A YAML mapping validated by a strict pydantic model; errors name the file."""
    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a {what} file must be a YAML mapping")
    try:
        return model.model_validate(data)
    except ValueError as e:
        raise ValueError(f"{Path(path).name}: {e}") from e


def load_file(path: Path) -> Template:
    return load_strict_yaml(path, Template, "template")


@cache
def all_templates(directory: Path = TEMPLATE_DIR) -> dict[str, Template]:
    templates: dict[str, Template] = {}
    for path in sorted(directory.glob("*.yaml")):
        t = load_file(path)
        if t.id in templates:
            raise ValueError(f"duplicate template id {t.id!r} in {path.name}")
        templates[t.id] = t
    return templates


def templates_of_kind(kind: str, directory: Path = TEMPLATE_DIR) -> list[Template]:
    """Every template of one kind ("explain", "rank"), by id."""
    return [t for _, t in sorted(all_templates(directory).items()) if t.kind == kind]


def get_template(template_id: str, directory: Path = TEMPLATE_DIR) -> Template:
    templates = all_templates(directory)
    if template_id not in templates:
        close = difflib.get_close_matches(template_id, templates, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(sorted(templates))}"
        raise KeyError(f"unknown template {template_id!r}{hint}")
    return templates[template_id]
