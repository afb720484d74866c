"""Finding, loading and registering the compiled kernels: once per process, on first use.

The kernels are one shared library (``_kernels`` + the platform's extension suffix, next to
this file), built by ``setup.py`` when ``pip install`` finds a C++ compiler. It is opened with
:mod:`ctypes` and each handler is registered with ``jax.ffi.register_ffi_target`` under a
``jaxlearn_*`` name (as a Python module it is empty). Registration is process-wide in
XLA, so it happens at most once (:func:`load` is cached).
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import importlib.machinery
from pathlib import Path

import numpy as np

from jaxlearn import _compat

#: rule kernel name -> (FFI target name, exported C symbol), as in ``kernels.cc``.
TARGETS: dict[str, tuple[str, str]] = {
    "sgd": ("jaxlearn_sgd_step", "JaxlearnSgdStep"),
    "momentum": ("jaxlearn_momentum_step", "JaxlearnMomentumStep"),
    "nesterov": ("jaxlearn_nesterov_step", "JaxlearnNesterovStep"),
    "adagrad": ("jaxlearn_adagrad_step", "JaxlearnAdagradStep"),
    "rmsprop": ("jaxlearn_rmsprop_step", "JaxlearnRmspropStep"),
    "adam": ("jaxlearn_adam_step", "JaxlearnAdamStep"),
}

HERE = Path(__file__).resolve().parent


@dataclasses.dataclass(frozen=True)
class Library:
    """What :func:`load` found: the library's path, its build line (instruction set and whether
    its loops contract like XLA's, e.g. ``'x86-64 AVX2+FMA;fma=1'``) and, when it cannot be used,
    why (``error``)."""

    path: str | None
    info: str
    error: str | None

    @property
    def bit_exact(self) -> bool:
        """True when the loops form XLA:CPU's fused multiply-adds (see ``loops.inc``)."""
        return self.info.endswith(";fma=1")


def find() -> Path | None:
    """The compiled library next to this file, or None (not built)."""
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = HERE / f"_kernels{suffix}"
        if path.is_file():
            return path
    return None


@functools.cache
def load() -> Library:
    """Open the library, register its handlers with XLA and run one smoke step; cached."""
    ffi = _compat.ffi_module()
    if ffi is None:
        return Library(None, "", "this jax has no jax.ffi")
    path = find()
    if path is None:
        return Library(
            None,
            "",
            "not compiled at install time: no C++ compiler, or the build failed",
        )
    try:
        lib = ctypes.CDLL(str(path))
        info_fn = lib.JaxlearnKernelsInfo
        info_fn.restype = ctypes.c_char_p
        info = info_fn().decode()
        for target, symbol in TARGETS.values():
            ffi.register_ffi_target(target, ffi.pycapsule(getattr(lib, symbol)), platform="cpu")
    except Exception as err:  # a library from another jaxlib, a missing symbol, ...
        return Library(str(path), "", f"could not load {path.name}: {err}")
    why = _smoke_test(ffi)
    return Library(str(path), info, why)


def _smoke_test(ffi) -> str | None:
    """One SGD step of two elements through the registered handler, eagerly on the CPU: None
    if it gives W - lr g, else why not (e.g. a jaxlib whose XLA rejects the handler's FFI API
    version). Catches a mismatch here rather than in the user's first compiled step."""
    import jax

    target = TARGETS["sgd"][0]
    try:
        cpu = jax.local_devices(backend="cpu")[0]  # this process's: jax.distributed
        w = np.array([1.0, 2.0], np.float32)
        g = np.array([1.0, -1.0], np.float32)
        lr = np.array([0.5], np.float32)
        call = ffi.ffi_call(target, jax.ShapeDtypeStruct(w.shape, w.dtype))
        with jax.ensure_compile_time_eval(), jax.default_device(cpu):
            got = np.asarray(jax.jit(call)(lr, w, g))
    except Exception as err:
        return f"the kernels failed their first call: {type(err).__name__}: {err}"
    if not np.array_equal(got, np.array([0.5, 2.5], np.float32)):
        return f"the kernels computed {got} for a step whose result is [0.5, 2.5]"
    return None
