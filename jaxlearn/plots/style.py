"""One look for every figure: a fixed colour and label per update rule, used everywhere."""

from __future__ import annotations

# The rules' display names have one home, beside the experiments that print them.
from jaxlearn.experiments.common import RULE_LABELS  # noqa: F401 (re-exported)

#: Colour of each update rule in every figure and notebook (colour-blind-safe Okabe–Ito).
RULE_COLORS: dict[str, str] = {
    "sgd": "#0072B2",
    "momentum": "#E69F00",
    "nesterov": "#CC79A7",
    "adagrad": "#009E73",
    "rmsprop": "#56B4E9",
    "adam": "#D55E00",
}

def pyplot():
    """matplotlib.pyplot with a non-interactive backend when no display is configured."""
    try:
        import matplotlib
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("plots need matplotlib: pip install 'jaxlearn[plots]'") from err
    import os

    if not os.environ.get("DISPLAY") and "MPLBACKEND" not in os.environ:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
