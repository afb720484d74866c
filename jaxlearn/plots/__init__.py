"""Figures from experiment results (matplotlib, imported lazily by each function)."""

from jaxlearn.plots.batchnorm import plot_batchnorm_grid
from jaxlearn.plots.curves import (
    INIT_COLORS,
    plot_initializer_comparison,
    plot_optimizer_comparison,
)
from jaxlearn.plots.histograms import plot_activation_histograms
from jaxlearn.plots.overfitting import plot_overfitting
from jaxlearn.plots.paths import plot_update_paths
from jaxlearn.plots.search import plot_search, plot_search_map
from jaxlearn.plots.style import RULE_COLORS, RULE_LABELS
from jaxlearn.plots.verdicts import (
    VERDICT_COLORS,
    plot_iqm,
    plot_performance_profile,
    plot_sensitivity,
    plot_tuning_curves,
    plot_verdicts,
)

__all__ = [
    "INIT_COLORS",
    "RULE_COLORS",
    "RULE_LABELS",
    "VERDICT_COLORS",
    "plot_activation_histograms",
    "plot_batchnorm_grid",
    "plot_initializer_comparison",
    "plot_iqm",
    "plot_optimizer_comparison",
    "plot_overfitting",
    "plot_performance_profile",
    "plot_search",
    "plot_search_map",
    "plot_sensitivity",
    "plot_tuning_curves",
    "plot_update_paths",
    "plot_verdicts",
]
