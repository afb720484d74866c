"""The chapter's experiments, each a function that returns data (a :class:`Result`), never a plot.

Every training experiment takes its own arguments and the shared :class:`Settings` (``seeds``,
``key``, ``dataset``, the sizes, ``quick``, ``progress``), as ``settings=`` or as keywords;
each module declares its book settings as ``BOOK`` and what ``quick=True`` changes as
``QUICK``, and has ``report(result)`` (the text) and ``tidy(result)`` (the CSV rows).

A new experiment is one module here (its function, ``BOOK``/``QUICK``, ``report``, ``tidy``),
its figure in :mod:`jaxlearn.plots`, and one entry in the command line's ``EXPERIMENTS``.
"""

from jaxlearn.experiments.batchnorm import batchnorm_comparison
from jaxlearn.experiments.curves import final_value, smooth_curve
from jaxlearn.experiments.data import get_data
from jaxlearn.experiments.histograms import HISTOGRAM_CONFIGS, activation_histograms
from jaxlearn.experiments.initializers import INIT_STDS, compare_initializers
from jaxlearn.experiments.keys import as_key
from jaxlearn.experiments.optimizers import BOOK_RULES, compare_optimizers
from jaxlearn.experiments.overfitting import dropout_experiment, weight_decay_experiment
from jaxlearn.experiments.paths import PATH_LEARNING_RATES, update_paths, valley
from jaxlearn.experiments.records import Result
from jaxlearn.experiments.search import hyperparameter_search
from jaxlearn.experiments.settings import Settings

__all__ = [
    "BOOK_RULES",
    "HISTOGRAM_CONFIGS",
    "INIT_STDS",
    "PATH_LEARNING_RATES",
    "Result",
    "Settings",
    "activation_histograms",
    "as_key",
    "batchnorm_comparison",
    "compare_initializers",
    "compare_optimizers",
    "dropout_experiment",
    "final_value",
    "get_data",
    "hyperparameter_search",
    "smooth_curve",
    "update_paths",
    "valley",
    "weight_decay_experiment",
]
