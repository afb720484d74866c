"""The chapter's experiments, each a function that returns data (arrays/dicts), never a plot.

Every training experiment takes ``key`` (a PRNG key or int seed), ``dataset`` (``'auto'``: MNIST
when its files are present, else the embedded ``mnist-5k``; a name; or the user's own arrays),
``quick`` (a shorter run in which the book's outcome still shows) and ``progress``.
"""

from jaxlearn.experiments.batchnorm import batchnorm_comparison
from jaxlearn.experiments.common import as_key, final_value, get_data, smooth_curve
from jaxlearn.experiments.histograms import HISTOGRAM_CONFIGS, activation_histograms
from jaxlearn.experiments.initializers import INIT_STDS, compare_initializers
from jaxlearn.experiments.optimizers import BOOK_RULES, compare_optimizers
from jaxlearn.experiments.overfitting import dropout_experiment, weight_decay_experiment
from jaxlearn.experiments.paths import PATH_LEARNING_RATES, update_paths, valley
from jaxlearn.experiments.search import hyperparameter_search

__all__ = [
    "BOOK_RULES",
    "HISTOGRAM_CONFIGS",
    "INIT_STDS",
    "PATH_LEARNING_RATES",
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
