"""Status and loading: the compiled library, its table of kernels, and the on/off switch.

The kernels are one shared library (``_kernels`` + the platform's extension suffix, next to
this file), built by ``setup.py`` when ``pip install`` finds a C++ compiler. It is opened with
:mod:`ctypes` once per process, on first use; its table of kernels (``JAXLEARN_KERNELS`` in
``kernels.cc``: name, state slots, scalars in order) is read from it, and each kernel's handler
is registered with ``jax.ffi.register_ffi_target`` as ``jaxlearn_<name>_step`` (registration is
process-wide in XLA, so :func:`load` is cached). As a Python module the library is empty.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import functools
import importlib.machinery
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jaxlearn import _compat

HERE = Path(__file__).resolve().parent

#: Setting this environment variable to ``0`` (or ``off``/``false``/``no``) turns the kernels
#: off; it is read each time a step is traced.
ENV_VAR = "JAXLEARN_NATIVE"

#: Where the one line goes when the kernels cannot load (``logging``: a single line on stderr
#: when logging is not configured, and silenced like any other logger).
LOG = logging.getLogger("jaxlearn.optim.native")


@dataclasses.dataclass(frozen=True)
class Kernel:
    """One row of the library's table: a kernel's name (what a rule's ``native`` names), its
    FFI target, its number of state slots and its scalars in the order the kernel reads them
    (names of the rule's ``scalars(count)`` dict)."""

    name: str
    slots: int
    scalars: tuple[str, ...]

    @property
    def target(self) -> str:
        return f"jaxlearn_{self.name}_step"


@dataclasses.dataclass(frozen=True)
class Library:
    """What :func:`load` found: the library's path, its build line (instruction set and whether
    its loops contract like XLA's, e.g. ``'x86-64 AVX2+FMA;fma=1'``), its kernels by name and,
    when it cannot be used, why (``error``)."""

    path: str | None
    info: str
    error: str | None
    kernels: Mapping[str, Kernel] = dataclasses.field(default_factory=dict)
    #: The opened library (ctypes), for :meth:`run_f32`; None when it did not open.
    cdll: Any = dataclasses.field(default=None, repr=False, compare=False)

    def run_f32(
        self,
        kernel: Kernel,
        scalars: np.ndarray,
        w: np.ndarray,
        g: np.ndarray,
        slots: Sequence[np.ndarray],
    ) -> None:
        """Run ``kernel``'s f32 loop (of the instruction set the handlers use) on NumPy arrays
        on this thread, updating ``w`` and ``slots`` in place: no XLA, so nothing to compile
        (the formula probe's kernel side). ``scalars`` in ``kernel.scalars``' order."""
        if any(
            x.dtype != np.float32 or not x.flags.c_contiguous or not x.flags.writeable
            for x in (w, *slots)
        ):
            raise ValueError("run_f32: W and the slots must be writeable, contiguous float32")
        scalars, g = (np.ascontiguousarray(x, np.float32) for x in (scalars, g))
        if len(slots) != kernel.slots or any(x.size != w.size for x in (g, *slots)):
            raise ValueError(f"run_f32: {kernel.name} takes g and {kernel.slots} slots of W's size")
        if scalars.size != len(kernel.scalars):
            raise ValueError(f"run_f32: {kernel.name} takes {len(kernel.scalars)} scalars")
        ptr = ctypes.POINTER(ctypes.c_float)
        slot_ptrs = (ptr * 2)(*(x.ctypes.data_as(ptr) for x in slots))
        index = list(self.kernels).index(kernel.name)
        args = [x.ctypes.data_as(ptr) for x in (scalars, w, g)]
        if self.cdll.JaxlearnKernelRunF32(index, *args, slot_ptrs, w.size) != 0:
            raise ValueError(f"the library has no kernel {kernel.name!r}")

    @property
    def bit_exact(self) -> bool:
        """True when the loops form XLA:CPU's fused multiply-adds (see ``loops.inc``)."""
        return self.info.endswith(";fma=1")


def parse_table(text: str) -> dict[str, Kernel]:
    """The kernels of ``JaxlearnKernelTable()``'s text: one line per kernel,
    ``<name> <slots> <scalar> ...``.

    >>> parse_table("sgd 0 lr\\nadam 2 lr_t b1 b2 eps\\n")['adam']
    Kernel(name='adam', slots=2, scalars=('lr_t', 'b1', 'b2', 'eps'))
    """
    kernels = {}
    for line in text.splitlines():
        name, slots, *scalars = line.split()
        kernels[name] = Kernel(name, int(slots), tuple(scalars))
    return kernels


def find() -> Path | None:
    """The compiled library next to this file, or None (not built)."""
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = HERE / f"_kernels{suffix}"
        if path.is_file():
            return path
    return None


@functools.cache
def load() -> Library:
    """Open the library, read its table, register its handlers with XLA and run one smoke
    step; cached."""
    ffi = _compat.ffi_module()
    if ffi is None:
        return Library(None, "", "this jax has no jax.ffi")
    path = find()
    if path is None:
        return Library(
            None, "", "not compiled at install time: no C++ compiler, or the build failed"
        )
    try:
        lib = ctypes.CDLL(str(path))
        for fn, restype in (
            (lib.JaxlearnKernelsInfo, ctypes.c_char_p),
            (lib.JaxlearnKernelTable, ctypes.c_char_p),
            (lib.JaxlearnKernelHandler, ctypes.c_void_p),
        ):
            fn.restype = restype
        lib.JaxlearnKernelHandler.argtypes = [ctypes.c_int]
        ptr = ctypes.POINTER(ctypes.c_float)
        lib.JaxlearnKernelRunF32.restype = ctypes.c_int
        lib.JaxlearnKernelRunF32.argtypes = [
            ctypes.c_int, ptr, ptr, ptr, ctypes.POINTER(ptr), ctypes.c_int64
        ]
        info = lib.JaxlearnKernelsInfo().decode()
        kernels = parse_table(lib.JaxlearnKernelTable().decode())
        for i, kernel in enumerate(kernels.values()):
            handler = lib.JaxlearnKernelHandler(i)
            ffi.register_ffi_target(kernel.target, ffi.pycapsule(handler), platform="cpu")
    except Exception as err:  # a library from another jaxlib or jaxlearn, a missing symbol, ...
        return Library(str(path), "", f"could not load {path.name}: {err}")
    return Library(str(path), info, _smoke_test(ffi, kernels), kernels, lib)


def _smoke_test(ffi, kernels: Mapping[str, Kernel]) -> str | None:
    """One SGD step of two elements through the registered handler, eagerly on the CPU: None
    if it gives W - lr g, else why not (e.g. a jaxlib whose XLA rejects the handler's FFI API
    version). Catches a mismatch here rather than in the user's first compiled step."""
    import jax

    if "sgd" not in kernels:
        return "the library has no sgd kernel"
    try:
        cpu = jax.local_devices(backend="cpu")[0]  # this process's: jax.distributed
        w = np.array([1.0, 2.0], np.float32)
        g = np.array([1.0, -1.0], np.float32)
        lr = np.array([0.5], np.float32)
        call = ffi.ffi_call(kernels["sgd"].target, jax.ShapeDtypeStruct(w.shape, w.dtype))
        with jax.ensure_compile_time_eval(), jax.default_device(cpu):
            got = np.asarray(jax.jit(call)(lr, w, g))
    except Exception as err:
        return f"the kernels failed their first call: {type(err).__name__}: {err}"
    if not np.array_equal(got, np.array([0.5, 2.5], np.float32)):
        return f"the kernels computed {got} for a step whose result is [0.5, 2.5]"
    return None


# --------------------------------------------------------------------------------------------
# The switch and the status
# --------------------------------------------------------------------------------------------


def switched_on() -> bool:
    """Whether ``JAXLEARN_NATIVE`` lets the kernels run (the default)."""
    return os.environ.get(ENV_VAR, "1").strip().lower() not in ("0", "off", "false", "no")


@contextlib.contextmanager
def use_kernels(on: bool) -> Iterator[None]:
    """Trace steps with the kernels on (``True``) or off (``False``, the XLA path) inside the
    ``with`` block: sets ``JAXLEARN_NATIVE``, which is read when a step is traced (a step
    compiled earlier keeps the path it was compiled with), and restores it after.

    optax/flax equivalent: none.

    >>> import jaxlearn.optim as jo
    >>> with jo.native.use_kernels(False):
    ...     jo.native_available()
    False
    """
    old = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = "1" if on else "0"
    try:
        yield
    finally:
        if old is None:
            del os.environ[ENV_VAR]
        else:
            os.environ[ENV_VAR] = old


def native_available() -> bool:
    """True when jaxlearn's rules run their CPU steps through the compiled kernels.

    That needs the compiled library (built at install time when a C++ compiler is present), a
    jax with ``jax.ffi`` whose XLA accepts it, and ``JAXLEARN_NATIVE`` not set to ``0``. Even
    then each step uses the XLA path for what the kernels do not cover (``docs/native.md``);
    :func:`native_status` says why the answer is False.

    optax/flax equivalent: none (PyTorch's ``torch.optim`` ``fused=True`` kernels are the
    counterpart).

    >>> import jaxlearn.optim as jo
    >>> isinstance(jo.native_available(), bool)
    True
    """
    return switched_on() and load().error is None


def native_status() -> str:
    """One line on the kernels: in use (with the instruction set, and whether they are
    bit-identical to the XLA path on this CPU), or why not.

    optax/flax equivalent: none.

    >>> import jaxlearn.optim as jo
    >>> jo.native_status().startswith('native kernels: ')
    True
    """
    lib = load()
    if lib.error is not None:
        return f"native kernels: off ({lib.error})"
    isa = lib.info.split(";")[0]
    exact = "bit-identical to" if lib.bit_exact else "equal to float rounding to"
    if not switched_on():
        return f"native kernels: off ({ENV_VAR}={os.environ.get(ENV_VAR)}; built for {isa})"
    return f"native kernels: on ({isa}; {exact} the XLA path)"


_told = False


def say_unavailable_once() -> None:
    """The one line saying the XLA path is used because the kernels cannot load, only when they
    would have been used: a CPU backend, a covered rule, and not turned off on purpose."""
    global _told
    import jax

    if _told or jax.default_backend() != "cpu":
        return
    _told = True
    LOG.warning("jaxlearn: %s; optimizer steps use the XLA path", native_status())
