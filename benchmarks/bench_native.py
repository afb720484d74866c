"""Prototype: a single-pass C++ Adam (XLA FFI) against jaxlearn's XLA step and optax.

Not part of the package. It answers one question for issue 6: is the gap to the targets
XLA:CPU's code generation (a loop, and a kernel, per output array) or the arithmetic itself?
The kernel in ``native/adam_ffi.cc`` writes W, m and v in one pass, in place, with
jaxlearn.adam's formula operation for operation, for a group of leaves in one call; it is
compiled here with the system's ``g++`` against jaxlib's FFI headers, registered with
``jax.ffi`` and called inside one jitted, donated step. The final parameters are checked
against jaxlearn's.

    .venv/bin/python -m benchmarks.run --only native

Needs ``g++``; without it (or if the build fails) the section prints why and has no rows.
"""

from __future__ import annotations

import ctypes
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import jaxlearn as jl
from benchmarks.bench_optimizers import (
    RULES,
    _make_tree,
    _optax_step,
    _Runner,
    _triad_runner,
    resnet50_shapes,
)
from jaxlearn.optim import fused_step

SOURCE = Path(__file__).resolve().parent / "native" / "adam_ffi.cc"
TARGET = "jaxlearn_bench_adam_f32"
LEAVES_PER_CALL = 128
_registered = False


def build_and_register() -> str | None:
    """Compile the kernel and register it with XLA; returns None, or why it could not."""
    global _registered
    if _registered:
        return None
    compiler = shutil.which("g++")
    if compiler is None:
        return "no g++ on PATH"
    out = Path(tempfile.mkdtemp(prefix="jaxlearn-native-")) / "adam_ffi.so"
    cmd = [
        compiler, "-O3", "-march=native", "-fno-math-errno", "-std=c++17", "-shared", "-fPIC",
        "-w", f"-I{jax.ffi.include_dir()}", str(SOURCE), "-o", str(out), "-lpthread",
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        shutil.rmtree(out.parent)
        return f"build failed: {done.stderr.strip()[-500:]}"
    lib = ctypes.cdll.LoadLibrary(str(out))
    shutil.rmtree(out.parent)  # the loaded library stays mapped; leave nothing behind in /tmp
    jax.ffi.register_ffi_target(TARGET, jax.ffi.pycapsule(lib.JaxlearnAdamF32), platform="cpu")
    _registered = True
    return None


def native_adam_step(opt: jl.optim.Transformation):
    """A jitted, donated ``step(params, state, grads)`` for a list of f32 leaves: one FFI call
    per group of up to ``LEAVES_PER_CALL`` leaves, with the rule's own per-step scalars (η_t
    with the bias corrections, β1, β2, ε)."""

    def call(scalars, ws, gs, ms, vs):
        # Inputs (scalars, W..., g..., m..., v...), results (W'..., m'..., v'...), each result
        # written in place into its donated input.
        k = len(ws)
        aliases = {1 + i: i for i in range(k)}
        aliases.update({1 + 2 * k + i: k + i for i in range(k)})
        aliases.update({1 + 3 * k + i: 2 * k + i for i in range(k)})
        shapes = [jax.ShapeDtypeStruct(w.shape, w.dtype) for w in ws]
        out = jax.ffi.ffi_call(TARGET, shapes * 3, input_output_aliases=aliases)(
            scalars, *ws, *gs, *ms, *vs
        )
        return out[:k], out[k : 2 * k], out[2 * k :]

    def step(params, state, grads):
        s = opt.rule.scalars(state.count)
        scalars = jnp.stack([s["lr_t"], s["b1"], s["b2"], s["eps"]]).astype(jnp.float32)
        new_w, new_m, new_v = [], [], []
        # One call per group of leaves: a call costs one kernel launch instead of one per
        # leaf and output, but XLA's compile time grows faster than linearly with a custom
        # call's operand count (1,000 leaves in one call: 112 s), so groups stay small.
        for a in range(0, len(params), LEAVES_PER_CALL):
            b = a + LEAVES_PER_CALL
            w, m, v = call(scalars, params[a:b], grads[a:b], state.m[a:b], state.v[a:b])
            new_w += w
            new_m += m
            new_v += v
        return new_w, type(state)(count=state.count + 1, m=new_m, v=new_v)

    return jax.jit(step, donate_argnums=(0, 1))


def bench_tree(label: str, shapes: list[tuple[int, ...]], rounds: int) -> list[dict]:
    """Native, jaxlearn, optax and the triad on one tree, timed interleaved round by round
    with the optimizer benchmark's runners."""
    n = int(sum(np.prod(s, dtype=np.int64) for s in shapes))
    grads = _make_tree(shapes, 1)
    make_jl, make_optax, _ = RULES["adam"]  # the optimizer benchmark's pair
    opt, twin = make_jl(), make_optax()
    runners = []
    for name, step, init in [
        ("native single pass (C++ FFI)", native_adam_step(opt), opt.init),
        ("jaxlearn (XLA)", fused_step(opt), opt.init),
        ("optax", _optax_step(twin), twin.init),
    ]:
        p = _make_tree(shapes, 0)
        runners.append(_Runner(name, step, p, init(p), grads))
    runners.append(_triad_runner(n))
    for r in range(rounds + 2):
        for run in runners:
            run.run(timed=r >= 2)
    # Same rule, same steps: the native kernel must give jaxlearn's numbers.
    for a, b in zip(runners[0].params, runners[1].params):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)
    med = {run.name: statistics.median(run.times) for run in runners}
    triad_gbs = 3 * 4 * n / med["triad a*s+b"] / 1e9
    rows = []
    for name, t in med.items():
        gbs = (3 if name == "triad a*s+b" else 7) * 4 * n / t / 1e9
        rows.append(
            {
                "tree": label,
                "impl": name,
                "ms": 1e3 * t,
                "GB/s": gbs,
                "time/optax": None if name == "triad a*s+b" else t / med["optax"],
                "bw/triad": gbs / triad_gbs,
            }
        )
    return rows


def rows(quick: bool = False) -> list[dict]:
    """The section's rows (the protocol ``benchmarks.run`` calls)."""
    why = build_and_register()
    if why is not None:
        print(f"native prototype skipped: {why}")
        return []
    trees = (
        {
            "(i) 1 leaf x 1M": [(1_000_000,)],
            "(ii) ResNet-50/4": resnet50_shapes(4),
            "(iii) 200 x 1000": [(1000,)] * 200,
        }
        if quick
        else {
            "(i) 1 leaf x 25M": [(25_000_000,)],
            "(ii) ResNet-50 (161 leaves, 25.6M)": resnet50_shapes(),
            "(iii) 2000 x 1000": [(1000,)] * 2000,
        }
    )
    out = []
    for label, shapes in trees.items():
        out += bench_tree(label, shapes, rounds=5 if quick else 15)
        jax.clear_caches()
    return out


COLUMNS = [
    ("tree", "{}"),
    ("impl", "{}"),
    ("ms", "{:.3f}"),
    ("GB/s", "{:.1f}"),
    ("time/optax", "{:.2f}"),
    ("bw/triad", "{:.0%}"),
]
