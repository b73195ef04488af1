"""The page's catalogue switch (agent/ui.py `Catalogues`): the indexed datasets are offered, switching starts a fresh
conversation whose shopper list and examples follow the dataset, and a dataset that is not indexed is shown with the
command that indexes it — a sentence, never a traceback. The app runs through gradio_client on the real indexes
with a canned LLM (no model is loaded or decoded)."""

from __future__ import annotations

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from test_ui_api import free_port

from agent.ui import REFINEMENTS, examples_for

GIFT, STEAM = "amazon2018_gift_cards", "steam"


@pytest.mark.fast
def test_examples_follow_the_dataset():
    assert "another brand" not in examples_for(STEAM) and examples_for(STEAM)[1:] == REFINEMENTS[STEAM]
    assert examples_for(GIFT)[0] == "a birthday gift card under $50"
    assert examples_for("someone_elses_catalogue")[0] == "something under $30"


@pytest.mark.slow
def test_switching_datasets_through_the_api(indexed):
    from gradio_client import Client

    from agent.service import Whyrec
    from agent.ui import Catalogues, launch

    steam = indexed(STEAM)  # the session's Steam (a sample in its own home unless WHYREC_TEST_STEAM=full) ...
    gift = indexed(GIFT, beside=steam)  # ... and Gift Cards in that same home: the page offers what one home holds
    whyrec = Whyrec(gift, llm=FakeListChatModel(responses=["{}"]))
    catalogues = Catalogues.discover(whyrec, names=(STEAM, "no_such_dataset"))
    assert catalogues.available == [GIFT, STEAM]
    assert catalogues.unavailable == {"no_such_dataset": "not indexed yet: run `whyrec index --dataset no_such_dataset`"}
    assert "whyrec index --dataset no_such_dataset" in catalogues.status_html()

    demo, url = launch(whyrec, port=free_port(), block=False, catalogues=catalogues)
    try:
        page = Client(url, verbose=False)
        first = page.predict("a birthday gift card under $50", [], api_name="/respond")[1]
        assert first["provenance"]["dataset"] == GIFT

        chat, _, answer, shopper, *rest = page.predict(STEAM, api_name="/choose_dataset")
        header = rest[-1]  # (the example buttons are no API outputs; examples_for is tested above)
        assert chat == [] and answer is None  # a fresh conversation
        shoppers = [c[0] for c in shopper["choices"]]
        assert shopper["value"] == "New shopper" and shoppers[0] == "New shopper" and len(shoppers) > 1
        assert not set(shoppers[1:]) & set(whyrec.retriever.users(200))  # Steam's shoppers, not Gift Cards'
        assert f"catalogue <b>{STEAM}</b>" in header
        answer = page.predict("a horror game under $10", [], api_name="/respond")[1]
        assert answer["provenance"]["dataset"] == STEAM
        assert ("tag", "Horror") in {(c["key"], c["value"]) for c in answer["constraints"]}
        assert not any("gift card" in r["title"].lower() for r in answer["recommendations"])

        # a dataset that is not indexed is listed with its command, and cannot be chosen
        import httpx
        from gradio_client.exceptions import AppError

        assert "whyrec index --dataset no_such_dataset" in httpx.get(f"{url}config").text
        with pytest.raises(AppError, match="not in the list of choices") as refused:
            page.predict("no_such_dataset", api_name="/choose_dataset")
        assert "Traceback" not in str(refused.value)
        # the page stays on Steam: the conversation continues there
        again = page.predict("cheaper", [], api_name="/respond")[1]
        assert again["provenance"]["dataset"] == STEAM
    finally:
        demo.close()
