"""Figures from experiment results (matplotlib, imported lazily by each function)."""

from jaxlearn.plots.paths import plot_update_paths
from jaxlearn.plots.style import RULE_COLORS, RULE_LABELS

__all__ = ["RULE_COLORS", "RULE_LABELS", "plot_update_paths"]
