"""A chat's memory: earlier turns' requests and answers, so refinements ("cheaper", "another brand",
"why the second one?") build on them. The active constraints are data (`constraints`): the facets of the latest
recommending turn, which `understand` carries into the next turn and changes only by what the shopper says.
One Conversation belongs to one user; it holds nothing of anyone else."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field

from agent.request import Facet, Request
from agent.schemas import Answer


class PastTurn(BaseModel):
    """An earlier turn of this conversation: what the shopper asked and what they were shown."""

    request: Request
    answer: Answer


class Conversation(BaseModel):
    user_id: str | None = None
    conversation_id: str = Field(default_factory=lambda: uuid.uuid4().hex[:16])
    turns: list[PastTurn] = Field(default_factory=list)
    max_turns: int = 20
    removed: list[tuple[str, str]] = Field(default_factory=list,
                                           description="(key, value) chips the shopper removed since the last turn")

    def last(self) -> PastTurn | None:
        return self.turns[-1] if self.turns else None

    def last_recommendation(self) -> PastTurn | None:
        """The latest turn that recommended something (a 'why?' turn only re-explains)."""
        return next((t for t in reversed(self.turns) if t.request.intent == "recommend"), None)

    @property
    def constraints(self) -> list[Facet]:
        """The active constraints: the latest recommending turn's facets, minus chips removed since."""
        turn = self.last_recommendation()
        facets = turn.request.facets if turn else []
        return [f for f in facets if (f.key, f.value) not in self.removed]

    def reasons_shown(self, item_id: str) -> list[str]:
        """The reasons earlier turns showed for this item: a pick shown again says something else where it can."""
        return [reason.text for turn in self.turns for rec in turn.answer.recommendations if rec.item_id == item_id
                for reason in rec.reasons]

    def facts_shown(self, item_id: str) -> set[tuple]:
        """The facts earlier turns' reasons stated of this item (`Claim.fact`): a pick shown again tells new ones."""
        return {claim.fact for turn in self.turns for rec in turn.answer.recommendations if rec.item_id == item_id
                for reason in rec.reasons for claim in reason.claims}

    def remove(self, key: str, value: str) -> None:
        """The shopper removed a chip: the next turn no longer carries that constraint."""
        if (key, value) not in self.removed:
            self.removed.append((key, value))

    def add(self, request: Request, answer: Answer) -> None:
        self.turns.append(PastTurn(request=request, answer=answer))
        if request.intent == "recommend":
            self.removed = []
        del self.turns[: -self.max_turns]
