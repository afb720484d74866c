"""Hidden-layer activation histograms (the book's ``ch06/weight_init_activation_histogram.py``,
figures 6-10 to 6-14).

1000 inputs N(0, 1) of 100 features through 5 layers of 100 nodes, no bias. With sigmoid:
std 1 piles the activations at 0 and 1 (vanishing gradients), std 0.01 at 0.5 (no
expressiveness), Xavier spreads them. With ReLU: std 0.01 shrinks to 0, Xavier drifts toward
0 layer by layer, He stays even.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import jax
import numpy as np

from jaxlearn.experiments.keys import as_key
from jaxlearn.experiments.records import Result
from jaxlearn.experiments.report import Report, pct
from jaxlearn.initializers import weight_std
from jaxlearn.nn.activations import ACTIVATIONS

#: Label → (activation, weight std): a number, or 'xavier' √(1/n) / 'he' √(2/n).
HISTOGRAM_CONFIGS: dict[str, tuple[str, str | float]] = {
    "sigmoid, std=1": ("sigmoid", 1.0),
    "sigmoid, std=0.01": ("sigmoid", 0.01),
    "sigmoid, Xavier": ("sigmoid", "xavier"),
    "tanh, Xavier": ("tanh", "xavier"),
    "ReLU, std=0.01": ("relu", 0.01),
    "ReLU, Xavier": ("relu", "xavier"),
    "ReLU, He": ("relu", "he"),
}


def activation_histograms(
    configs: Mapping[str, tuple[str, str | float]] | None = None,
    *,
    key: jax.Array | int = 0,
    num_inputs: int = 1000,
    nodes: int = 100,
    layers: int = 5,
    bins: int = 30,
    return_activations: bool = False,
    quick: bool = False,
) -> Result:
    """Forward N(0, 1) inputs through ``layers`` bias-free layers and histogram each layer.

    Every configuration uses the same input and the same N(0, 1) weight draws, scaled by its
    std. Histograms span (0, 1) as the book's (sigmoid, ReLU) and (−1, 1) for tanh.

    Args:
      configs: label → (activation 'sigmoid'|'tanh'|'relu', std number|'xavier'|'he');
        default :data:`HISTOGRAM_CONFIGS`.
      key: PRNG key or int seed.
      num_inputs, nodes, layers, bins: the book's 1000, 100, 5, 30.
      return_activations: also return every activation, (layers, num_inputs, nodes) per config.
      quick: accepted for a uniform interface; the experiment is already fast.

    Returns:
      A :class:`~jaxlearn.experiments.records.Result` ``{'experiment': 'histograms', 'config':
      {'num_inputs', 'nodes', 'layers', 'bins'}, 'configs': {label: {'activation', 'std' (layer 1's
      number), 'edges' (bins + 1,), 'counts' (layers, bins), 'mean' (layers,), 'std_per_layer'
      (layers,), 'frac_saturated' (layers,): share within 0.1 of 0 or 1 (sigmoid), 'frac_middle'
      (layers,): share in [0.4, 0.6], 'frac_zero' (layers,): share below 0.01 in absolute
      value}}}``.

    >>> r = activation_histograms(layers=2, num_inputs=50, nodes=10)
    >>> c = r['configs']['sigmoid, std=0.01']
    >>> c['counts'].shape, bool(c['frac_middle'][-1] == 1.0)
    ((2, 30), True)
    """
    del quick
    configs = dict(HISTOGRAM_CONFIGS if configs is None else configs)
    k_x, k_w = jax.random.split(as_key(key))
    x = jax.random.normal(k_x, (num_inputs, nodes))
    unit_w = jax.random.normal(k_w, (layers, nodes, nodes))
    out = {}
    for label, (activation, spec) in configs.items():
        if activation not in ACTIVATIONS:
            raise ValueError(f"configs[{label!r}]: activation must be one of {sorted(ACTIVATIONS)}")
        std = weight_std(spec, nodes, f"configs[{label!r}] std")
        acts = np.asarray(_forward(x, unit_w * std, activation))
        lo = -1.0 if activation == "tanh" else 0.0
        edges = np.linspace(lo, 1.0, bins + 1)
        counts = np.stack([np.histogram(a, bins=edges)[0] for a in acts])
        flat = acts.reshape(layers, -1)
        entry = {
            "activation": activation,
            "std": std,
            "edges": edges,
            "counts": counts,
            "mean": flat.mean(axis=1),
            "std_per_layer": flat.std(axis=1),
            "frac_saturated": ((flat < 0.1) | (flat > 0.9)).mean(axis=1),
            "frac_middle": ((flat >= 0.4) & (flat <= 0.6)).mean(axis=1),
            "frac_zero": (np.abs(flat) < 0.01).mean(axis=1),
        }
        if return_activations:
            entry["activations"] = acts
        out[label] = entry
    config = {"num_inputs": num_inputs, "nodes": nodes, "layers": layers, "bins": bins}
    return Result("histograms", config, configs=out)


def report(result: dict) -> Report:
    """The table of :func:`activation_histograms`' result: first and last layer per config."""
    c = result["config"]
    rows = [
        [label, f"{e['std']:.3g}", float(e["mean"][0]), float(e["std_per_layer"][0]),
         float(e["std_per_layer"][-1]), pct(e["frac_saturated"][-1]), pct(e["frac_middle"][-1])]
        for label, e in result["configs"].items()
    ]  # fmt: skip
    last = f"L{c['layers']}"
    return Report(
        f"Activations of {c['layers']} hidden layers of {c['nodes']} nodes (input N(0, 1), "
        f"{c['num_inputs']} x {c['nodes']}, no bias)",
        ["config", "W std", "mean L1", "spread L1", f"spread {last}", f"near 0|1 {last}",
         f"0.4-0.6 {last}"],
        rows,
        [f"spread: standard deviation of the activations; L1/{last}: layer 1/{c['layers']}"],
    )  # fmt: skip


@functools.partial(jax.jit, static_argnames="activation")
def _forward(x, weights, activation):
    def layer(a, w):
        a = ACTIVATIONS[activation](a @ w)
        return a, a

    return jax.lax.scan(layer, x, weights)[1]


def tidy(result: dict) -> tuple[tuple[str, ...], list[tuple]]:
    """The histograms as long-format CSV rows ``(label, layer, bin_low, bin_high, count)``."""
    rows = [
        (label, layer + 1, float(lo), float(hi), int(n))
        for label, e in result["configs"].items()
        for layer, counts in enumerate(e["counts"])
        for lo, hi, n in zip(e["edges"][:-1], e["edges"][1:], counts)
    ]
    return ("label", "layer", "bin_low", "bin_high", "count"), rows


__all__ = ["HISTOGRAM_CONFIGS", "activation_histograms", "report", "tidy"]
