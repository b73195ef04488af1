"""A chat's memory: earlier turns' requests and answers, so refinements ("cheaper", "another brand",
"why the second one?") can build on them. One Conversation belongs to one user; it holds nothing of anyone else."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from agent.schemas import Answer

if TYPE_CHECKING:
    from agent.understand import Request


class Turn(BaseModel):
    request: "Request"
    answer: Answer


class Conversation(BaseModel):
    user_id: str | None = None
    turns: list[Turn] = Field(default_factory=list)
    max_turns: int = 20

    def last(self) -> Turn | None:
        return self.turns[-1] if self.turns else None

    def last_recommendation(self) -> Turn | None:
        """The latest turn that recommended something (a 'why?' turn only re-explains)."""
        return next((t for t in reversed(self.turns) if t.request.intent == "recommend"), None)

    def add(self, request: "Request", answer: Answer) -> None:
        self.turns.append(Turn(request=request, answer=answer))
        del self.turns[: -self.max_turns]

