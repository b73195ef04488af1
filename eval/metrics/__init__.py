"""Evaluation metrics: pure functions registered by name (`METRICS`), grouped as faithfulness, explanation,
usefulness and ranking. Importing the package registers them all."""

from eval.metrics import faithfulness, ranking, text, usefulness  # noqa: F401  (registration)
from eval.metrics.features import distinct, feature_vocabulary, features_in
from eval.metrics.registry import METRICS, Metric, Score, evaluate, get_metric, metric_names, register, score_example

__all__ = ["METRICS", "Metric", "Score", "distinct", "evaluate", "feature_vocabulary", "features_in", "get_metric",
           "metric_names", "register", "score_example"]
