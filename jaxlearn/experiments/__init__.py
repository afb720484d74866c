"""The chapter's experiments, each a function that returns data (arrays/dicts), never a plot."""

from jaxlearn.experiments.paths import PATH_LEARNING_RATES, update_paths, valley

__all__ = ["PATH_LEARNING_RATES", "valley", "update_paths"]
