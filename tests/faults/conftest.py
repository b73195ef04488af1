"""The fault suite: every test here is marked `faults`; figures measured by the tests are gathered in one session
object and written as a report (eval/faults_report.py) when the session ends.

Shared, built once per session: a Chroma index of the real Gift Cards data in a temporary home (so the suite never
touches another run's `.whyrec/`), and a `Whyrec` over it with the real local SmolLM2 model.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from eval.faults_report import REPORT_DIR, FaultFigures

HERE = Path(__file__).resolve().parent
FIGURES = FaultFigures()
GIFT = "amazon2018_gift_cards"


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects; each module also sets pytestmark itself
def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.faults)


def pytest_runtest_logreport(report):
    if HERE not in Path(str(report.fspath)).resolve().parents and Path(str(report.fspath)).resolve().parent != HERE:
        return
    if report.when == "call" or report.outcome != "passed":
        outcome = report.outcome if report.when == "call" else ("error" if report.failed else report.outcome)
        FIGURES.outcome(report.nodeid.split("tests/faults/", 1)[-1], outcome)


def pytest_sessionfinish(session, exitstatus):
    if FIGURES.tests:  # only when fault tests ran: a plain `pytest -m "not faults"` writes nothing
        md, _ = FIGURES.write(Path(os.environ.get("WHYREC_FAULTS_REPORT_DIR") or REPORT_DIR))
        print(f"\nfault report: {md}")


@pytest.fixture(scope="session")
def figures() -> FaultFigures:
    return FIGURES


@pytest.fixture(scope="session")
def gift_settings(tmp_path_factory):
    """Settings whose home holds a fresh index of the real Gift Cards data; the model is the converted SmolLM2."""
    from agent.settings import Settings
    from index.build import build_index

    default = Settings()
    settings = Settings(home=tmp_path_factory.mktemp("whyrec-home"), model_dir=default.base_model_dir, dataset=GIFT)
    build_index(GIFT, settings, progress=False)
    return settings


@pytest.fixture(scope="session")
def gift_whyrec(gift_settings):
    """A Whyrec over that index; its catalogue and retriever are shared by the suite's other Whyrecs."""
    from agent.service import Whyrec

    return Whyrec(gift_settings)


@pytest.fixture(scope="session")
def local_whyrec(gift_whyrec):
    """The real chain: real index, real MiniLM, the real tiny local model with constrained decoding."""
    gift_whyrec.chain  # load everything once, before any test times a turn
    return gift_whyrec


@pytest.fixture(scope="session")
def whyrec_with(gift_whyrec):
    """`whyrec_with(backend="openai", ...)`: another Whyrec over the same catalogue and index, settings changed."""
    from agent.service import Whyrec

    def make(**overrides):
        settings = gift_whyrec.settings.model_copy(update=overrides)
        return Whyrec(settings, catalogue=gift_whyrec.catalogue, retriever=gift_whyrec.retriever)

    return make
