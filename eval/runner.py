"""Run a grid: every explanation cell and ranking cell on the same held-out pairs, with tqdm progress, writing

eval/runs/<run_id>/results.json            the grid, the resolved settings, provenance and metrics of every cell
eval/runs/<run_id>/samples/<cell>.jsonl    one row per held-out pair: raw reply, claims, verdicts, ranks, …

results.json is rewritten after every cell and samples are written a batch at a time, so an interrupted run keeps
what it finished, and `GridRunner.resume(run_dir)` (`whyrec eval run --resume`) continues it where the code that
produces the figures has not changed since the run started. A pair that fails is recorded with its error and
counted by reason; it never stops the run."""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tqdm import tqdm

from agent import provenance
from agent.settings import PROJECT_ROOT, Settings
from eval.grid import BackendSpec, Grid
from eval.heldout import HeldOut, load_heldout
from eval.metrics import distinct
from index.split import Pair

RUNS_DIR = PROJECT_ROOT / "eval" / "runs"
# what produces a run's figures: a run continues only where none of it changed since the run started
RESULT_PATHS = ("agent", "index", "prompts", "eval/*.py", "eval/metrics", "pyproject.toml")


class CannotResume(Exception):
    """A run that cannot be continued (finished, another code version, another index); the message says why."""


def git_state() -> dict[str, Any]:
    state = provenance.git_state()
    return {"commit": state.commit, "dirty": state.dirty}


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _jsonable(value: Any) -> Any:
    """NaN/inf become null: JSON has no NaN, and a metric that does not apply is 'no value', not a number."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def adapter_fingerprints(grid: Grid) -> dict[str, str]:
    """sha256 of each local adapter's weights, by backend: adapter weights are not in git, so a resumed run checks
    them itself."""
    out = {}
    for backend in grid.backends:
        if backend.adapter is not None:
            weights = sorted((PROJECT_ROOT / backend.adapter).glob("adapter_model.*"))
            out[backend.name] = hashlib.sha256(b"".join(w.read_bytes() for w in weights)).hexdigest()
    return out


def resolved_settings(settings: Settings) -> dict[str, Any]:
    return settings.model_dump(mode="json", exclude={"openai_api_key"})


def _index_snapshot(dataset: str, settings: Settings) -> str:
    try:
        from index.build import index_snapshot

        return index_snapshot(dataset, settings)
    except Exception as e:  # noqa: BLE001 — provenance must not stop a run
        return f"unavailable ({type(e).__name__})"


class GridRunner:
    def __init__(self, grid: Grid, settings: Settings | None = None, out_root: Path = RUNS_DIR,
                 limit: int | None = None, progress: bool = True):
        self.grid = grid
        # whole replies: the raw rates measure what the model writes (abandoning one changes no displayed reason)
        self.base = (settings or Settings()).model_copy(update={"abandon_doomed": False})
        self.limit_override = limit  # --limit: the first N held-out users of every dataset
        self.limit = limit if limit is not None else grid.limit
        self.progress = progress
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        self.git = git_state()
        self.run_id = f"{grid.name}-{stamp}-{self.git['commit'][:8]}"
        self.run_dir = Path(out_root) / self.run_id
        self._llms: dict[str, Any] = {}
        self.results: dict[str, Any] = {}
        self._finished: dict[str, dict[str, Any]] = {}  # cells a resumed run already has, by cell id
        self._resumed = False
        self.continued_after: dict[str, int] = {}  # pairs of a cell an interrupted process had written, by cell id

    @classmethod
    def resume(cls, run_dir: Path, settings: Settings | None = None, progress: bool = True) -> GridRunner:
        """The runner of an interrupted run: finished cells are kept, an explanation cell in progress continues after
        its last whole batch (so every batch holds the pairs it would have held), a ranking cell starts again (its
        peers learn from all of its pairs). Only where nothing under RESULT_PATHS changed since the run's commit."""
        run_dir = Path(run_dir)
        results = json.loads((run_dir / "results.json").read_text())
        commit = results["git"]["commit"]
        if results["git"]["dirty"]:
            raise CannotResume(f"{run_dir.name} started from uncommitted changes: its code cannot be checked")
        changed = provenance.changed_since(commit, RESULT_PATHS)
        if changed is None:
            raise CannotResume(f"git cannot compare this checkout with {commit[:10]}")
        if changed:
            raise CannotResume(f"the code that produces the figures changed since {commit[:10]}: "
                               f"{', '.join(changed[:8])}{' …' if len(changed) > 8 else ''}")
        runner = cls(Grid.model_validate(results["grid"]), settings, run_dir.parent,
                     results.get("limit_override", results["limit"]), progress)
        runner.run_id, runner.run_dir, runner.git = results["run_id"], run_dir, results["git"]
        runner._finished, runner._resumed = {c["cell"]: c for c in results["cells"]}, True
        if (adapters := adapter_fingerprints(runner.grid)) != results.get("adapters", {}):
            raise CannotResume(f"an adapter's weights changed since the run started: {sorted(adapters)}")
        if len(runner._finished) == len(runner.grid.explain_cells()) + len(runner.grid.ranking_cells()):
            raise CannotResume(f"{run_dir.name} is finished: all its cells are in results.json")
        runner.results = results | {"cells": [], "resumed": [*results.get("resumed", []), {
            "at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "git_commit": git_state()["commit"],
            "cells_finished": len(results["cells"])}]}
        return runner

    # -- building blocks -------------------------------------------------------------------------------------
    def settings_for(self, dataset: str, backend: BackendSpec) -> Settings:
        return self.base.model_copy(update={"dataset": dataset, **backend.settings_overrides()})

    def llm_for(self, dataset: str, backend: BackendSpec):
        if backend.name not in self._llms:
            from agent.llm import build_llm

            llm = build_llm(self.settings_for(dataset, backend))
            if hasattr(llm, "loaded"):
                # a local model loads here, in this thread, before a cell's batch runs the chain on worker threads:
                # loaded lazily on one of them while the others encoded, a second base model came up with its
                # lm_head on the meta device ('Cannot copy out of meta tensor') and every call of the cell failed
                llm.loaded()
            self._llms[backend.name] = llm
        return self._llms[backend.name]

    def pairs(self, heldout: HeldOut):
        limit = (self.limit_override if self.limit_override is not None
                 else self.grid.limits.get(heldout.dataset.name, self.grid.limit))
        return heldout.pairs[:limit] if limit else heldout.pairs

    def chunks(self, heldout: HeldOut):
        """The pairs, `grid.batch_size` at a time: each chunk's LLM calls go out as one batch."""
        pairs = self.pairs(heldout)
        return (pairs[i: i + self.grid.batch_size] for i in range(0, len(pairs), self.grid.batch_size))

    # -- the run ---------------------------------------------------------------------------------------------
    def run(self) -> Path:
        (self.run_dir / "samples").mkdir(parents=True, exist_ok=True)
        if not self.results:
            self.results = {"run_id": self.run_id, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                            "git": self.git, "grid": self.grid.model_dump(mode="json"), "limit": self.limit,
                            "limit_override": self.limit_override,
                            "settings": resolved_settings(self.base), "adapters": adapter_fingerprints(self.grid),
                            "datasets": {}, "cells": []}
        for dataset in self.grid.datasets:
            heldout = load_heldout(dataset, self.base.data_dir, self.grid.seed, self.grid.target)
            if self.grid.item_universe == "interacted":
                from eval.ranking_eval import interacted_only

                heldout = interacted_only(heldout)
            split = heldout.split
            info = {
                "split_sha256": split.sha256, "split_seed": split.seed, "split_method": split.method,
                "dataset_fingerprint": split.dataset_fingerprint, "target": self.grid.target,
                "pairs": len(self.pairs(heldout)), "pairs_available": len(heldout.pairs),
                "index_snapshot": _index_snapshot(dataset, self.base), "feature_vocabulary": len(distinct(heldout.features)),
                "item_universe": self.grid.item_universe, "items": len(heldout.dataset.items)}
            if (before := self.results["datasets"].get(dataset)) not in (None, info):
                raise CannotResume(f"{dataset} is not what the run started with (data, split or index): "
                                   f"{sorted(k for k in info if before.get(k) != info[k])}")
            self.results["datasets"][dataset] = info
            for _, backend, template_id in (c for c in self.grid.explain_cells() if c[0] == dataset):
                self._record(self._finished.get(self.explain_id(dataset, backend, template_id))
                             or self.explain_cell(heldout, backend, template_id))
            for _, backend in (c for c in self.grid.ranking_cells() if c[0] == dataset):
                self._record(self._finished.get(self.ranking_id(dataset, backend))
                             or self.ranking_cell(heldout, backend))
        return self.run_dir

    @staticmethod
    def explain_id(dataset: str, backend: BackendSpec, template_id: str) -> str:
        return f"{dataset}__{backend.name}__{template_id}"

    def ranking_id(self, dataset: str, backend: BackendSpec) -> str:
        return f"{dataset}__{backend.name if self.grid.rank_template else 'no-llm'}__ranking"

    def _record(self, cell: dict[str, Any]) -> None:
        self.results["cells"].append(cell)
        (self.run_dir / "results.json").write_text(json.dumps(_jsonable(self.results), indent=1) + "\n")

    def _sample_rows(self, heldout: HeldOut, cell_id: str,
                     rows_of: Callable[[list[Pair]], list[dict[str, Any] | Exception]],
                     continues: bool = False) -> tuple[list, Counter]:
        """`rows_of` over the pairs a chunk at a time, each row written to samples/<cell>.jsonl as it comes. A pair
        that failed is kept as its error and counted by kind; it never stops the cell. `continues`: whole chunks an
        interrupted run already wrote for these pairs are kept, not run again."""
        path = self.run_dir / "samples" / f"{cell_id}.jsonl"
        chunks = list(self.chunks(heldout))
        done = self._written_chunks(path, chunks) if continues else []
        rows, errors = [row for chunk in done for row in chunk], Counter()
        self.continued_after[cell_id] = len(rows)
        with path.open("w") as out, tqdm(total=len(self.pairs(heldout)), initial=len(rows), desc=cell_id,
                                         unit="pair", disable=not self.progress) as bar:
            for row in rows:
                errors.update([row["error"].partition(":")[0]] if "error" in row else [])
                out.write(json.dumps(row) + "\n")
            for chunk in chunks[len(done):]:
                for pair, row in zip(chunk, rows_of(chunk)):
                    if isinstance(row, Exception):
                        errors[type(row).__name__] += 1
                        row = {"user_id": pair.user_id, "item_id": pair.item_id,
                               "error": f"{type(row).__name__}: {row}"[:500]}
                    rows.append(row)
                    out.write(json.dumps(_jsonable(row)) + "\n")
                out.flush()
                bar.update(len(chunk))
        return rows, errors

    @staticmethod
    def _written_chunks(path: Path, chunks: list[list[Pair]]) -> list[list[dict[str, Any]]]:
        """The leading chunks whose every row an earlier process wrote to `path`, for the same pairs in order."""
        lines = path.read_text().splitlines() if path.is_file() else []
        done, at = [], 0
        for chunk in chunks:
            try:
                rows = [json.loads(line) for line in lines[at: at + len(chunk)]]
            except json.JSONDecodeError:  # the line a kill cut short
                break
            if [(r.get("user_id"), r.get("item_id")) for r in rows] != [(p.user_id, p.item_id) for p in chunk]:
                break
            done.append(rows)
            at += len(chunk)
        return done

    def _provenance(self, heldout: HeldOut, backend: BackendSpec, llm) -> dict[str, Any]:
        from agent.llm import describe

        name, model, adapter = describe(llm) if llm is not None else ("none", "none", None)
        info = self.results["datasets"][heldout.dataset.name]
        return {"backend_name": backend.name, "backend": name, "model": model, "adapter": adapter,
                "dataset": heldout.dataset.name, "dataset_fingerprint": info["dataset_fingerprint"],
                "split_sha256": info["split_sha256"], "index_snapshot": info["index_snapshot"],
                "git_commit": self.git["commit"], "git_dirty": self.git["dirty"],
                "settings": resolved_settings(self.settings_for(heldout.dataset.name, backend))}

    def explain_cell(self, heldout: HeldOut, backend: BackendSpec, template_id: str) -> dict[str, Any]:
        from agent.chain import build_chain_parts
        from agent.llm import describe
        from agent.verify import TextChecker
        from eval.explain_eval import example_scores, explain_metrics, explain_pairs, item_request, usefulness_context
        from prompts.loader import TEMPLATE_DIR, get_template

        dataset = heldout.dataset.name
        settings = self.settings_for(dataset, backend)
        template = get_template(template_id)
        llm = self.llm_for(dataset, backend)
        parts = build_chain_parts(llm, None, heldout.catalogue, template, settings,
                                  index_snapshot=self.results["datasets"][dataset]["index_snapshot"],
                                  backend=describe(llm))
        checker = TextChecker(heldout.catalogue.vocabulary)
        cell_id = self.explain_id(dataset, backend, template_id)

        message = (self.grid.message if self.grid.requests == "message"
                   else lambda pair: item_request(heldout, pair, self.grid.seed))

        def rows_of(chunk: list[Pair]) -> list[dict[str, Any] | Exception]:
            return [row if isinstance(row, Exception) else row | {"scores": example_scores(row, heldout.features)}
                    for row in explain_pairs(parts, heldout, chunk, message, checker)]

        started = time.perf_counter()
        rows, errors = self._sample_rows(heldout, cell_id, rows_of, continues=self._resumed)
        hashes = sorted(r["prompt_hash"] for r in rows if r.get("prompt_hash"))
        return {
            "kind": "explain", "cell": cell_id, "dataset": dataset, "backend": backend.name, "template": template_id,
            "provenance": self._provenance(heldout, backend, llm) | {
                "template_id": template.id, "template_version": template.version,
                "template_sha256": _sha256_file(TEMPLATE_DIR / f"{template.id}.yaml"),
                "prompt_hashes_sha256": hashlib.sha256("\n".join(hashes).encode()).hexdigest(),
                "distinct_prompts": len(set(hashes))},
            "n": len(rows), "errors": dict(errors), "seconds": round(time.perf_counter() - started, 1),
            **({"continued_after_pairs": n} if (n := self.continued_after.get(cell_id)) else {}),
            "samples": f"samples/{cell_id}.jsonl",
            "metrics": explain_metrics(rows, heldout.features, usefulness_context(
                heldout.catalogue, self.grid.message, heldout.dataset.interactions)),
        }

    def ranking_cell(self, heldout: HeldOut, backend: BackendSpec) -> dict[str, Any]:
        from agent.explain import Handles
        from agent.understand import understand
        from agent.conversation import Conversation
        from agent.rank_llm import llm_preferences, neutral_seed
        from eval.ranking_eval import CatalogueArrays, HybridScorer, PairRanking, PeerScorers, ranking_metrics
        from index.embed import encode_query
        from index.retrieve import Retriever
        from prompts.loader import TEMPLATE_DIR, get_template

        dataset = heldout.dataset.name
        settings = self.settings_for(dataset, backend)
        retriever = Retriever(dataset, settings)
        catalogue = heldout.catalogue
        vectors = retriever.embeddings(list(catalogue.items))
        if missing := [i for i in catalogue.items if i not in vectors]:  # an index still being built
            from index.embed import encode

            vectors |= dict(zip(missing, encode([catalogue.items[i].text for i in missing])))
        arrays = CatalogueArrays(catalogue, vectors)  # vectorised full ranking (32k Steam games a pair)
        peers_started = time.perf_counter()
        peers = PeerScorers(heldout, arrays, self.grid.peers, self.grid.seed) if self.grid.peers else None
        hybrid = HybridScorer(heldout, peers, vectors, settings.rank, self.grid.negatives,
                              self.grid.seed) if peers is not None else None
        peers_seconds = time.perf_counter() - peers_started
        llm, template = None, None
        if self.grid.rank_template:
            template = get_template(self.grid.rank_template)
            llm = self.llm_for(dataset, backend)

        def rank_chunk(chunk: list[Pair]) -> list[dict[str, Any] | Exception]:
            rankings: list[PairRanking | Exception] = []
            for pair in chunk:
                try:
                    query = heldout.request_text(pair.user_id)
                    rankings.append(PairRanking(heldout, pair, {}, vectors, settings.rank, self.grid.negatives,
                                                self.grid.seed, arrays=arrays, query_vector=encode_query(query)))
                    rankings[-1].row["query"] = query
                    if peers is not None and hybrid is not None:
                        peers.add(rankings[-1])
                        hybrid.add(rankings[-1])
                except Exception as e:  # noqa: BLE001
                    rankings.append(e)
            ranked = [r for r in rankings if isinstance(r, PairRanking)]
            if template is not None and ranked:
                shortlists = [Handles(r.shortlist(settings.n_explain_candidates), r.history[: settings.max_history],
                                      [], self.grid.rank_max_attributes, stats=catalogue.stats)
                              for r in ranked]
                asks = [(understand(self.grid.message, catalogue, Conversation(user_id=r.pair.user_id)), shown)
                        for r, shown in zip(ranked, shortlists)]
                seeds = [neutral_seed(str(self.grid.seed), r.pair.user_id) for r in ranked]  # shown shuffled
                for r, shown, order in zip(ranked, shortlists,
                                           llm_preferences(llm, template, asks, settings.max_new_tokens, seeds=seeds)):
                    r.add_llm(shown, order)
            return [r if isinstance(r, Exception) else r.row for r in rankings]

        cell_id = self.ranking_id(dataset, backend)
        started = time.perf_counter()
        rows, errors = self._sample_rows(heldout, cell_id, rank_chunk)
        provenance = self._provenance(heldout, backend, llm)
        if template is not None:
            provenance |= {"template_id": template.id, "template_version": template.version,
                           "template_sha256": _sha256_file(TEMPLATE_DIR / f"{template.id}.yaml")}
        return {"kind": "ranking", "cell": cell_id, "dataset": dataset, "backend": backend.name if template else None,
                "template": template.id if template else None, "provenance": provenance, "n": len(rows),
                "errors": dict(errors), "seconds": round(time.perf_counter() - started, 1),
                "samples": f"samples/{cell_id}.jsonl", "metrics": ranking_metrics(rows),
                "peers": peers.record if peers is not None else {}, "peers_seconds": round(peers_seconds, 1),
                "hybrid": hybrid.record if hybrid is not None else None}
