"""PyTorch's CPU optimizers as the peer of jaxlearn's step: ``torch.optim`` loop, foreach and fused.

Benchmark-only: PyTorch is never a dependency of jaxlearn or its tests. Install the pinned CPU
build into the same environment with ``pip install -e '.[bench]'`` (``torch==2.13.0``; any
other version pulls a multi-GB CUDA build). Without it the torch rows are left out and the
sections say so.

Each rule's PyTorch twin moves the same arrays per parameter as jaxlearn's (the formulas differ
in details: PyTorch's momentum is ``v = μv + g; W -= η v``, its Adam adds ε to the corrected
root), which is what a time comparison needs. ``fused=True`` exists for SGD (with or without
momentum, Nesterov included: ``SGD(nesterov=True, fused=True)``), AdaGrad and Adam; RMSprop has
loop and foreach only.
"""

from __future__ import annotations

import time

import numpy as np

#: The version the tables were measured with (``[bench]`` extra in pyproject.toml).
TORCH_PIN = "2.13.0"

#: rule -> (torch.optim class name, its hyper-parameters): jaxlearn's benchmark hyper-parameters.
TWINS: dict[str, tuple[str, dict]] = {
    "sgd": ("SGD", {"lr": 0.01}),
    "momentum": ("SGD", {"lr": 0.01, "momentum": 0.9}),
    "nesterov": ("SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True}),
    "adagrad": ("Adagrad", {"lr": 0.01}),
    "rmsprop": ("RMSprop", {"lr": 0.01, "alpha": 0.99, "eps": 1e-7}),
    "adam": ("Adam", {"lr": 0.001}),
}
#: implementation name -> torch.optim keyword arguments.
MODES: dict[str, dict] = {
    "torch loop": {"foreach": False},
    "torch foreach": {"foreach": True},
    "torch fused": {"fused": True},
}


def unavailable() -> str | None:
    """None when ``torch`` imports (any version: the version is reported), else why not."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return f"torch not installed (pip install -e '.[bench]' for torch=={TORCH_PIN})"
    return None


def version() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    return torch.__version__


class TorchRunner:
    """One ``torch.optim`` optimizer over float32 tensors with fixed gradients: the same
    ``run(timed)`` / ``times`` / ``first_s`` protocol as ``bench_optimizers._Runner``."""

    def __init__(self, name: str, opt, params: list):
        self.name, self.opt, self.params = name, opt, params
        self.first_s: float | None = None
        self.times: list[float] = []

    def run(self, timed: bool) -> None:
        t0 = time.perf_counter()
        self.opt.step()
        dt = time.perf_counter() - t0
        if self.first_s is None:
            self.first_s = dt
        elif timed:
            self.times.append(dt)

    def leaves(self) -> list[np.ndarray]:
        return [p.detach().numpy() for p in self.params]


def runners(rule: str, params: list[np.ndarray], grads: list[np.ndarray]) -> list[TorchRunner]:
    """Loop, foreach and (where PyTorch has it) fused runners for ``rule``, each on its own copy
    of ``params`` with ``grads`` as the gradients; [] without torch."""
    if unavailable():
        return []
    import torch

    cls_name, kwargs = TWINS[rule]
    out = []
    for name, mode in MODES.items():
        ps = [torch.tensor(np.array(p), requires_grad=True) for p in params]
        for p, g in zip(ps, grads):
            p.grad = torch.tensor(np.array(g))
        try:
            opt = getattr(torch.optim, cls_name)(ps, **kwargs, **mode)
        except (TypeError, RuntimeError):  # no fused RMSprop
            continue
        out.append(TorchRunner(name, opt, ps))
    return out


def axpy_runner(n: int) -> TorchRunner | None:
    """The in-place axpy ``y += s * x`` over ``n`` float32 with ``torch.Tensor.add_`` (one
    multi-threaded, vectorised pass over 3 arrays: PyTorch's rate on this machine); None
    without torch."""
    if unavailable():
        return None
    import torch

    y, x = torch.ones(n), torch.full((n,), 1e-3)

    class _Axpy:
        def step(self):
            y.add_(x, alpha=0.999)

    return TorchRunner("torch axpy", _Axpy(), [y])
