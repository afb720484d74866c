"""Start the processes of one local ``jax.distributed`` run and reap them; share what several
tests need once per test session.

:func:`launch` starts N copies of a script, each in its own process group, with JAX's
variables set (``JAX_COORDINATOR_ADDRESS`` on a free localhost port, ``JAX_NUM_PROCESSES``,
``JAX_PROCESS_ID``), ``--xla_force_host_platform_device_count`` host devices each and CPU
collectives (gloo, JAX's default on CPU), waits for them within a deadline and, whatever
happens (a failure, the deadline, an error in the test itself), kills every process group
that is still there (SIGKILL: JAX's preemption handler catches SIGTERM) and reaps it in a
``finally``; should the test process itself be killed (no ``finally`` then), the kernel kills
the processes it started (``PR_SET_PDEATHSIG``): no test leaves a process behind.

:func:`once` runs an expensive step (a multi-process run) once per session even when
pytest-xdist spreads the tests that need it over several workers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

TESTS = Path(__file__).resolve().parent


@dataclasses.dataclass
class Finished:
    """One process of a launch: its exit status (None: killed at the deadline), output, and
    the seconds from the launch to its exit."""

    index: int
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float

    def log(self) -> str:
        return (
            f"--- process {self.index}: status {self.returncode} after {self.seconds:.1f} s\n"
            f"{self.stdout[-4000:]}\n{self.stderr[-6000:]}"
        )


def _die_with_parent() -> None:
    """In the child, before exec: the kernel kills it (SIGKILL) when the process that started
    it ends, however that ends (a signal that skips ``finally`` included). Linux only."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def free_port() -> int:
    """A TCP port nobody listens on now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(
    processes: int, devices: int, process_id: int, port: int, extra: dict | None = None
) -> dict[str, str]:
    """The environment of process ``process_id`` of a local run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "SLURM_"))}
    env.update(
        JAX_PLATFORMS="cpu",
        XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
        JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}",
        JAX_NUM_PROCESSES=str(processes),
        JAX_PROCESS_ID=str(process_id),
        PYTHONPATH=os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
    )
    env.update(extra or {})
    return env


def launch(
    args: Sequence[str],
    processes: int,
    devices: int,
    *,
    timeout: float,
    env: dict | None = None,
    per_process_env: Callable[[int], dict] | None = None,
    stop_all_on_failure: bool = True,
    only: Sequence[int] | None = None,
) -> list[Finished]:
    """Run ``python ARGS`` as ``processes`` processes of one run, ``devices`` host devices
    each; every process's :class:`Finished`, in process order.

    ``stop_all_on_failure``: when a process ends with a non-zero status, kill the others at
    once (a correctness test has failed; do not wait for JAX's heartbeat). The failure tests
    pass False to watch how the others stop by themselves. ``timeout`` bounds the whole run.
    ``only``: start just these process ids (the others never come).
    """
    port = free_port()
    start = time.monotonic()
    procs: list[subprocess.Popen] = []
    ended: dict[int, float] = {}
    ids = list(range(processes)) if only is None else list(only)
    with tempfile.TemporaryDirectory(prefix="jaxlearn-mp-") as tmp:
        outs = [(Path(tmp) / f"{i}.out", Path(tmp) / f"{i}.err") for i in ids]
        try:
            for k, i in enumerate(ids):
                extra = {**(env or {}), **(per_process_env(i) if per_process_env else {})}
                with open(outs[k][0], "w") as out, open(outs[k][1], "w") as err:
                    procs.append(subprocess.Popen(
                        [sys.executable, *map(str, args)],
                        env=environment(processes, devices, i, port, extra),
                        stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                        start_new_session=True, preexec_fn=_die_with_parent,
                    ))  # fmt: skip
            while len(ended) < len(ids) and time.monotonic() - start < timeout:
                for i, p in enumerate(procs):
                    if i not in ended and p.poll() is not None:
                        ended[i] = time.monotonic() - start
                if stop_all_on_failure and any(procs[i].returncode for i in ended):
                    break
                time.sleep(0.05)
        finally:
            for p in procs:  # every group still there, whatever happened above
                if p.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(p.pid, signal.SIGKILL)
            for p in procs:
                p.wait()
        return [
            Finished(
                ids[k], p.returncode if k in ended else None, outs[k][0].read_text(),
                outs[k][1].read_text(), ended.get(k, time.monotonic() - start),
            )
            for k, p in enumerate(procs)
        ]  # fmt: skip


def check(finished: list[Finished]) -> list[Finished]:
    """``finished`` if every process ended with status 0, else an AssertionError with the
    logs of all of them."""
    if any(f.returncode != 0 for f in finished):
        raise AssertionError("\n".join(f.log() for f in finished))
    return finished


def last_json(text: str) -> Any:
    """The JSON document on the last line of ``text`` that holds one."""
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise AssertionError(f"no JSON line in:\n{text[-3000:]}")


# --- once per session ------------------------------------------------------------------------


def once(root: Path, name: str, make: Callable[[Path], Any]) -> tuple[Any, Path]:
    """``make(folder)``'s JSON-able result, computed once per test session.

    ``root`` is a folder every pytest-xdist worker of the session shares
    (``tmp_path_factory.getbasetemp().parent``). The first caller runs ``make`` under a file
    lock; the others wait for it and read its result. A failure is recorded and re-raised
    to every caller. Returns the result and the folder ``make`` wrote into.
    """
    folder = root / f"once-{name}"
    folder.mkdir(parents=True, exist_ok=True)
    done, failed = folder / "result.json", folder / "failed.txt"
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if failed.exists():
                raise AssertionError(f"{name} failed earlier in this session: {failed.read_text()}")
            if not done.exists():
                try:
                    result = make(folder)
                except BaseException as e:
                    failed.write_text(f"{type(e).__name__}: {e}")
                    raise
                done.write_text(json.dumps(result))
            return json.loads(done.read_text()), folder
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# --- trees as flat NumPy archives --------------------------------------------------------------


def flat(prefix: str, tree: Any) -> dict[str, np.ndarray]:
    """``{prefix + keystr(path): leaf}`` for every leaf of ``tree`` (fetched to NumPy)."""
    import jax

    from jaxlearn.train.distributed import fetch

    return {
        f"{prefix}{jax.tree_util.keystr(path)}": fetch(leaf)
        for path, leaf in jax.tree_util.tree_leaves_with_path(tree)
    }


def run_record(prefix: str, result: Any) -> dict[str, np.ndarray]:
    """A :class:`~jaxlearn.train.TrainResult` as flat arrays under ``prefix``."""
    out = {}
    for part in ("params", "state", "opt_state"):
        out.update(flat(f"{prefix}/{part}", getattr(result, part)))
    for part in ("loss", "train_acc", "test_acc"):
        out[f"{prefix}/{part}"] = np.asarray(getattr(result, part))
    return out


def select(archive: Any, prefix: str) -> dict[str, np.ndarray]:
    """The arrays of ``archive`` under ``prefix`` (prefix removed)."""
    n = len(prefix)
    return {k[n:]: archive[k] for k in archive.files if k.startswith(prefix)}


def tree_bits(tree: Any) -> dict[str, np.ndarray]:
    """Every leaf's raw bytes (PRNG keys as their key data, numbers as 0-d arrays), gathered
    from all processes, by leaf path: equal bits, equal leaves."""
    import jax

    from jaxlearn.train.distributed import fetch

    def bits(x):
        if hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x = jax.random.key_data(x)
        return np.ascontiguousarray(fetch(x)).reshape(-1).view(np.uint8)

    return {jax.tree_util.keystr(p): bits(v) for p, v in jax.tree_util.tree_leaves_with_path(tree)}


def cell_value(cell: int) -> dict:
    """A plain-Python cell of the processes tests: a pure function of its input."""
    return {"cell": cell, "square": cell * cell, "root": cell**0.5, "name": f"c{cell}"}


CELLS = list(range(11))
#: The 2-process run computes the first cells (a run stopped half-way); 4 processes resume.
FIRST_RUN = 6

#: ``jaxlearn search`` made small for the tests (the search's own keyword arguments).
SMALL_SEARCH = {"epochs": 2, "train_size": 200, "hidden": [16]}

#: ``jaxlearn suite`` made small for the tests: one quick problem, K = E = 2, no references.
#: The 2-process run computes SUITE_FIRST's cells; the 4-process run resumes with SUITE_ALL.
SUITE_ARGS = ["suite", "--quick", "--problems", "book_function", "--budget", "2", "--seeds",
              "2", "--no-references", "--no-progress"]  # fmt: skip
SUITE_FIRST, SUITE_ALL = ["sgd", "adam"], ["sgd", "adam", "momentum", "rmsprop"]


def sharded_state(mesh: Any, seed: int) -> dict:
    """A training state of 16 networks (``init_many``, one Adam step each): params, BatchNorm
    state and Adam's moments sharded over ``mesh``'s ``'trials'`` axis (over the processes
    when it spans several), a PRNG key, a step count and a bf16 copy replicated. The same
    values for the same ``seed`` on any number of processes (computed on each, then placed);
    ``mesh=None``: on this process's default device."""
    import jax
    import jax.numpy as jnp
    from jax.sharding import PartitionSpec as P

    import jaxlearn as jl
    from jaxlearn.nn import mlp
    from jaxlearn.train import distributed

    net = mlp.make(20, [50, 50], 5, use_batchnorm=True)
    params, bn = mlp.init_many(net, jax.random.key(seed), 16)
    opt = jl.adam(0.01)
    grads = jax.tree.map(
        lambda p: jax.random.normal(jax.random.key(seed + 100), p.shape, p.dtype), params
    )
    updates, opt_state = jax.vmap(opt.update)(grads, jax.vmap(opt.init)(params), params)
    params = jl.apply_updates(params, updates)
    sharded = {"params": params, "bn": bn, "opt_state": opt_state}
    replicated = {"key": jax.random.key(seed), "step": 10 * seed,
                  "bf16": params["W2"][0].astype(jnp.bfloat16)}  # fmt: skip
    if mesh is not None:
        sharded = jax.tree.map(lambda a: distributed.put(a, mesh, P("trials")), sharded)
        replicated = jax.tree.map(
            lambda a: distributed.put(a, mesh, P()) if isinstance(a, jax.Array) else a,
            replicated,
        )
    return {**sharded, **replicated}


# --- the runs several tests share ------------------------------------------------------------

WORKER_1X8 = TESTS / "_distributed_worker.py"
WORKER = TESTS / "_multiprocess_worker.py"


def one_process_run(folder: Path) -> dict:
    """1 process x 8 host devices (tests/_distributed_worker.py): its results, and in
    ``folder`` the references of the multi-process runs (``reference*.npz``)."""
    import jax

    import jaxlearn as jl
    from jaxlearn import checkpoint
    from jaxlearn.nn import mlp

    # A checkpoint written here, on 1 device, for the worker to load onto 8.
    net, params, state = mlp.init(
        jax.random.key(0), 20, [50, 50], 5, use_batchnorm=True, use_dropout=True,
        dropout_ratio=0.2, weight_decay_lambda=0.01,
    )  # fmt: skip
    checkpoint.save(folder / "from_one.jl", (params, state, jl.adam().init(params)))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "SLURM_"))}
    env.update(XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu")
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(WORKER_1X8), str(folder), str(folder / "from_one.jl")],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    return {**last_json(proc.stdout), "wall_seconds": round(time.monotonic() - start, 1)}


def multi_process_run(
    folder: Path, processes: int, devices: int, restore: str = "-", scenario: str = "train"
) -> dict:
    """tests/_multiprocess_worker.py's ``scenario`` as ``processes`` x ``devices``:
    process 0's JSON results (arrays in ``folder``) and the run's wall time."""
    start = time.monotonic()
    finished = check(launch(
        [WORKER, scenario, folder, restore], processes, devices, timeout=900,
    ))  # fmt: skip
    return {
        **last_json(finished[0].stdout),
        "wall_seconds": round(time.monotonic() - start, 1),
        "other_stdout": [f.stdout for f in finished[1:]],
    }


def zero_record(replicated: Any, sharded: Any) -> dict:
    """A ``train(mesh=8)`` run against the same run with ``shard_opt_state=True`` (ZeRO-1):
    the largest differences of params, losses and optimizer state (the sharded state's flat
    buffers, padding dropped, against the replicated state ravelled the same way), and the
    optimizer state's bytes on one device in each run."""
    import jax

    from jaxlearn.optim.flat import FlatBuffers, ravel
    from jaxlearn.train.distributed import fetch

    def diff(a, b):
        return max((float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)),
                                  initial=0)) for x, y in zip(a, b, strict=True)), default=0.0)

    def fields(state):
        """Each field of the rule's state as {dtype: flat values} (or the plain value)."""
        out = {}
        for name in state._fields:
            x = getattr(state, name)
            if isinstance(x, FlatBuffers):
                out[name] = {k: fetch(v) for k, v in x.items()}
            elif isinstance(x, dict):
                out[name] = {k: fetch(v) for k, v in ravel(x)[0].items()}
            else:
                out[name] = {"": fetch(x)}
        return out

    rep, zero = fields(replicated.opt_state), fields(sharded.opt_state)
    state_diff = max(
        diff([rep[f][k]], [zero[f][k].reshape(-1)[: np.size(rep[f][k])]])
        for f in rep for k in rep[f]
    )

    def bytes_on_one_device(tree):
        device = jax.tree.leaves(tree)[0].addressable_shards[0].device
        return sum(s.data.nbytes for leaf in jax.tree.leaves(tree)
                   for s in leaf.addressable_shards if s.device == device)  # fmt: skip

    return {
        "params": diff(jax.tree.leaves(jax.tree.map(fetch, replicated.params)),
                       jax.tree.leaves(jax.tree.map(fetch, sharded.params))),
        "loss": diff([replicated.loss], [sharded.loss]),
        "opt_state": state_diff,
        "bytes_replicated": bytes_on_one_device(replicated.opt_state),
        "bytes_sharded": bytes_on_one_device(sharded.opt_state),
    }  # fmt: skip
