"""One process of a local ``jax.distributed`` run (tests/test_multiprocess.py starts N of them
with tests/_multiprocess.py, which sets JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES,
JAX_PROCESS_ID and the host device count).

    python tests/_multiprocess_worker.py SCENARIO OUT_DIR [ARG]

Scenarios (process 0 prints one JSON line of results; arrays go to OUT_DIR for the test):

- ``train`` (ARG: a folder with the checkpoint of an earlier ``train`` run to restore, or
  ``-``): every update rule (and Adam at the book's eps) trained by ``train(mesh=8)`` over
  the 8 devices of all processes; Dropout's masks in a forward pass over the processes; the
  errors of a wrong device count; when ARG is ``-`` (2 processes): one step of every rule
  against one device's step, ``train_many`` with its trials over the processes, the search
  through the ``jaxlearn`` command (a smaller search) and ZeRO-1; a training state sharded
  over the processes saved, or restored from ARG, bit for bit; ``jaxlearn suite`` with its
  cells over the processes (2 cells; resumed from ARG's suite folder with 2 more);
  :mod:`jaxlearn.train.processes` with plain Python cells (``share``, ``gather``,
  ``broadcast``, ``map_cells``, a cell that fails elsewhere, a run resumed with another
  number of processes).
- ``rules``: only the rules of ``train`` (no ZeRO-1), over however many global devices the
  processes have (2 processes x 1 host device: the 2-process layout a 2-core machine suits).
- ``die-collective`` / ``die-local``: process 1 kills itself (SIGKILL) while process 0 is in
  a collective (a data-parallel training run) or in local work (waiting for a cell in
  ``map_cells``); the test times how process 0 ends. Process 1 writes the moment it dies.
- ``save-killed`` (ARG: the checkpoint path): a checkpoint is saved, then saved again while
  process 0 is killed half-way through writing the file.
"""

from __future__ import annotations

import faulthandler
import functools
import json
import os
import signal
import sys
import time
from pathlib import Path

if __name__ == "__main__":  # first, before any JAX call (pytest only imports this file)
    from jaxlearn.train import processes

    processes.initialize_from_env()

import jax
import jax.numpy as jnp
import numpy as np
from _multiprocess import CELLS, FIRST_RUN, cell_value  # tests/ is this script's folder
from jax.sharding import PartitionSpec as P

from jaxlearn import checkpoint
from jaxlearn.nn import mlp
from jaxlearn.train import distributed, processes, train, train_many

D = 8  # global devices in every run: 2 processes x 4, 4 x 2


def check_rules(out: Path, results: dict, zero1: bool = True) -> None:
    from _distributed_worker import network, problem, rule_runs
    from _multiprocess import run_record, zero_record

    data = problem()
    net, params, state = network()
    devices = jax.device_count()  # every device of every process
    records = {}
    for name, opt, kw in rule_runs():
        r = train(net, params, state, opt, data, mesh=devices, **kw)
        assert r.params["W1"].sharding.is_fully_replicated
        assert not r.params["W1"].is_fully_addressable  # spans the processes
        records.update(run_record(f"{name}/multi", r))
        if zero1 and name == "adam" and processes.process_count() == 2:  # ZeRO-1 over them
            zero = train(net, params, state, opt, data, mesh=D, shard_opt_state=True, **kw)
            results["zero"] = {"adam": zero_record(r, zero)}
    if processes.is_writer():
        np.savez(out / "rules.npz", **records)
    results["rules"] = sorted({k.split("/")[0] for k in records})


#: Steps of the one-step comparison (each from the one-device trajectory's state).
STEP_CHECKS = 6


def check_steps(results: dict) -> None:
    """Each rule's data-parallel step over the processes (``make_train_step(mesh=8)``) from
    the same state, batch and key as one device's step (computed here, on this process):
    ``{rule: {leaf: [max |difference|, max |one device|]}}`` over STEP_CHECKS steps."""
    from _distributed_worker import BATCH, network, problem, rule_runs

    from jaxlearn.train import make_train_step

    (x, t), _ = problem()
    net, params, state = network()
    rng = np.random.default_rng(3)
    out = {}
    for name, opt, _ in rule_runs():
        local = make_train_step(net, opt, donate=False)
        multi = make_train_step(net, opt, mesh=D, donate=False)
        start, worst = (params, state, opt.init(params)), {}
        for k in range(STEP_CHECKS):
            idx = rng.integers(0, len(x), BATCH)
            key = jax.random.key(100 + k)
            ref = local(*start, x[idx], t[idx], key)
            got = multi(*start, x[idx], t[idx], key)
            for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(got),
                                    jax.tree.leaves(ref), strict=True):  # fmt: skip
                leaf = ("params", "state", "opt_state", "loss")[path[0].idx] + (
                    jax.tree_util.keystr(path[1:])
                )
                a, b = distributed.fetch(a).astype(np.float64), np.asarray(b, np.float64)
                d, m = float(np.max(np.abs(a - b), initial=0)), float(np.max(np.abs(b), initial=0))
                old = worst.get(leaf, [0.0, 0.0])
                worst[leaf] = [max(old[0], d), max(old[1], m)]
            start = ref[:3]
        out[name] = worst
    results["steps"] = out


def check_dropout(results: dict) -> None:
    """The forward pass over 8 devices of all processes uses the global batch's masks."""
    from _distributed_worker import BATCH, problem

    net, params, state = mlp.init(jax.random.key(0), 20, [50, 50], 5, use_dropout=True,
                                  dropout_ratio=0.5)  # fmt: skip
    x = jnp.asarray(problem()[0][0][:BATCH])
    key = jax.random.key(7)
    ref, _ = mlp.apply(net, params, state, x, train=True, key=key)  # on this process alone
    mesh = distributed.make_mesh(D)

    def local(x):
        return mlp.apply(net, params, state, x, train=True, key=key, axis_name="data")[0]

    f = jax.jit(jax.shard_map(local, mesh=mesh, in_specs=P("data"), out_specs=P("data")))
    got = distributed.fetch(f(distributed.put(x, mesh, P("data"))))
    results["dropout_forward"] = float(np.max(np.abs(got - np.asarray(ref))))


def check_errors(results: dict) -> None:
    from _distributed_worker import network, problem

    net, params, state = network()
    messages = []
    for kw in ({"batch_size": 30, "mesh": D}, {"batch_size": 32, "mesh": 3}):
        try:
            train(net, params, state, "sgd", problem(), key=jax.random.key(0), iterations=2,
                  progress=False, **kw)  # fmt: skip
        except ValueError as e:
            messages.append(str(e))
        else:
            messages.append("no error")
    results["errors"] = messages


def check_train_many(out: Path, results: dict) -> None:
    """K = 10 configurations over the 8 devices of all processes (padded to 16)."""
    from _distributed_worker import many_configs, network, problem
    from _multiprocess import run_record

    net, _, _ = network()
    stacked, bn, kw = many_configs(net)
    r = train_many(net, stacked, bn, "sgd", problem(), mesh=D, **kw)
    assert not r.params["W1"].is_fully_addressable
    if processes.is_writer():
        np.savez(out / "train_many.npz", **run_record("train_many/multi", r))
    results["train_many_devices"] = len(r.params["W1"].sharding.device_set)


def check_search(out: Path, results: dict) -> None:
    """``jaxlearn search`` started as these processes (a smaller search: see SMALL_SEARCH)."""
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from _multiprocess import SMALL_SEARCH

    import jaxlearn.experiments as ex
    from jaxlearn import cli

    full = ex.hyperparameter_search
    ex.hyperparameter_search = functools.partial(full, **SMALL_SEARCH)
    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        with redirect_stdout(stdout), redirect_stderr(stderr):
            status = cli.main(["search", "--dataset", "mnist-5k", "--quick", "--seed", "0",
                               "--no-progress", "--out", str(out / "search")])  # fmt: skip
    finally:
        ex.hyperparameter_search = full
    results["search"] = processes.gather(
        {"status": status, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}
    )


def check_suite(out: Path, restore: str, results: dict) -> None:
    """``jaxlearn suite`` started as these processes: the first run computes SUITE_FIRST's
    cells into ``out/suite``; a run with ``restore`` resumes that folder with SUITE_ALL."""
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from _multiprocess import SUITE_ALL, SUITE_ARGS, SUITE_FIRST

    from jaxlearn import cli

    first = restore == "-"
    folder = (out if first else Path(restore)) / "suite"
    rules = [a for r in (SUITE_FIRST if first else SUITE_ALL) for a in ("--rule", r)]
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        status = cli.main([*SUITE_ARGS, *rules, "--out", str(folder)])
    results["suite"] = processes.gather(
        {"status": status, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}
    )


def check_checkpoint(out: Path, restore: str, results: dict) -> None:
    """Save a training state sharded over the processes and read it back, or restore one
    saved by another number of processes onto this run's sharding; compared bit for bit
    with what the saving run wrote (``state_expected.npz``)."""
    from _multiprocess import sharded_state, tree_bits

    mesh = distributed.make_mesh(D, distributed.TRIALS)
    like = sharded_state(mesh, seed=2)  # the structure and sharding; other values
    if restore == "-":
        tree = sharded_state(mesh, seed=1)
        assert not tree["params"]["W1"].is_fully_addressable
        checkpoint.save(out / "state.jlckpt", tree)
        bits = tree_bits(tree)  # a collective: every process gathers
        if processes.is_writer():
            np.savez(out / "state_expected.npz", **bits)
        folder = out
    else:
        folder = Path(restore)
    back = checkpoint.load(folder / "state.jlckpt", like=like)
    processes.barrier()  # process 0 wrote state_expected.npz
    expected = np.load(folder / "state_expected.npz")
    got = tree_bits(back)
    results["checkpoint"] = {
        "equal": sorted(k for k in expected.files if np.array_equal(got[k], expected[k])),
        "leaves": sorted(expected.files),
        "over_trials": back["params"]["W1"].sharding.spec == P("trials"),
        "devices": len(back["params"]["W1"].sharding.device_set),
        "from": "this run" if restore == "-" else "a 2-process run",
    }


def check_cells(out: Path, results: dict, first: bool) -> None:
    """processes' share/gather/broadcast/map_cells with plain Python callables, and a run
    resumed with another number of processes (files written by process 0 alone)."""
    n, me = processes.process_count(), processes.process_index()
    results["share"] = processes.gather(processes.share(CELLS))
    results["gather"] = processes.gather({"index": me, "pair": (me, me * 10)})
    results["broadcast"] = processes.gather(processes.broadcast({"from": me, "n": n}))
    folder = out.parent / "cells"  # shared by the 2- and 4-process runs of one test session
    folder.mkdir(exist_ok=True)

    def write(i, value):
        assert processes.is_writer()
        (folder / f"{todo[i]}.json").write_text(json.dumps(value))

    if first:
        todo = CELLS[:FIRST_RUN]  # a run stopped after FIRST_RUN cells
    else:
        done = [int(p.stem) for p in folder.glob("*.json")] if processes.is_writer() else None
        done = processes.broadcast(done)
        todo = [c for c in CELLS if c not in done]
        results["resumed"] = {"done_before": sorted(done), "todo": todo}
    got = processes.map_cells(cell_value, todo, on_result=write)
    results["map_cells"] = got
    # A cell that raises on another process is raised on process 0, naming it.
    def bad(cell):
        if cell == n + 1:  # owned by process 1
            raise ValueError(f"bad cell {cell}")
        return cell

    try:
        processes.map_cells(bad, list(range(2 * n)))
        outcome = "no error"
    except (ValueError, processes.ProcessError) as e:
        outcome = f"{type(e).__name__}: {e}"
    results["failed_cell"] = processes.gather(outcome)


def scenario_train(out: Path, restore: str) -> None:
    results: dict = {"processes": processes.process_count(), "devices": jax.device_count(),
                     "local_devices": jax.local_device_count(), "seconds": {}}  # fmt: skip
    steps = [("errors", lambda: check_errors(results)),
             ("rules", lambda: check_rules(out, results)),
             ("dropout", lambda: check_dropout(results))]  # fmt: skip
    if restore == "-":  # the 2-process run (4 processes give bit-identical trajectories)
        steps += [("steps", lambda: check_steps(results)),
                  ("train_many", lambda: check_train_many(out, results)),
                  ("search", lambda: check_search(out, results))]  # fmt: skip
    steps += [("suite", lambda: check_suite(out, restore, results)),
              ("checkpoint", lambda: check_checkpoint(out, restore, results)),
              ("cells", lambda: check_cells(out, results, first=restore == "-"))]  # fmt: skip
    for name, step in steps:
        print(f"process {processes.process_index()}: {name}", file=sys.stderr, flush=True)
        start = time.perf_counter()
        step()
        results["seconds"][name] = round(time.perf_counter() - start, 1)
    if processes.is_writer():
        print(json.dumps(results), flush=True)


def lowered_threads() -> list[list]:
    """``[unnamed, wait channel, niceness]`` of each of this process's threads whose niceness
    is not the process's (the ones ``initialize_from_env`` lowered); ``unnamed``: the thread
    carries the process's name."""
    base, out = os.getpriority(os.PRIO_PROCESS, 0), []
    name = Path(f"/proc/self/task/{os.getpid()}/comm").read_text()
    for tid in sorted(int(t) for t in os.listdir("/proc/self/task")):
        nice = os.getpriority(os.PRIO_PROCESS, tid)
        if nice != base:
            task = f"/proc/self/task/{tid}"
            out.append([Path(task, "comm").read_text() == name,
                        Path(task, "wchan").read_text().strip(), nice])  # fmt: skip
    return out


def scenario_rules(out: Path) -> None:
    results: dict = {"processes": processes.process_count(), "devices": jax.device_count(),
                     "local_devices": jax.local_device_count(),
                     "lowered_threads": processes.gather(lowered_threads())}  # fmt: skip
    start = time.perf_counter()
    check_rules(out, results, zero1=False)
    results["seconds"] = {"rules": round(time.perf_counter() - start, 1)}
    if processes.is_writer():
        print(json.dumps(results), flush=True)


def scenario_die(out: Path, where: str) -> None:
    """Process 1 dies (SIGKILL) while process 0 is in a collective or in local work."""
    from _distributed_worker import network, problem

    def die() -> None:
        (out / "died_at").write_text(repr(time.time()))
        os.kill(os.getpid(), signal.SIGKILL)

    if where == "collective":
        net, params, state = network()
        for call in range(1000):  # data-parallel training over both processes' devices
            if call == 1 and processes.process_index() == 1:
                time.sleep(0.5)  # process 0 is in its second run's collectives by now
                die()
            train(net, params, state, "sgd", problem(), key=jax.random.key(0),
                  iterations=200, batch_size=32, mesh=D, progress=False)  # fmt: skip
            print(f"process {processes.process_index()}: run {call} done", flush=True)
    else:
        processes.barrier()  # both are up
        if processes.process_index() == 1:
            die()
        print("process 0: waiting for cell 1", flush=True)
        processes.map_cells(lambda c: c, [0, 1])  # waits for cell 1, which process 1 owns
    raise AssertionError("unreachable: process 1 is dead")


def scenario_save_killed(out: Path, path: str) -> None:
    """Save a checkpoint, then save another one to the same path with process 0 killed
    half-way through writing it: the first must stay readable."""
    from jaxlearn import _files

    mesh = distributed.make_mesh(D)
    old = {"w": distributed.put(jnp.arange(16.0), mesh, P("data")), "step": 1}
    checkpoint.save(path, old)
    values = distributed.fetch(old["w"])  # a collective: every process gathers
    if processes.is_writer():
        np.save(out / "old.npy", values)
    new = {"w": distributed.put(-jnp.arange(16.0), mesh, P("data")), "step": 2}
    original = Path.write_bytes

    def write_half_then_die(self, data):
        if self.name.endswith(".part"):  # the temporary file of the atomic write
            with open(self, "wb") as f:
                f.write(data[: len(data) // 2])
                f.flush()
                os.fsync(f.fileno())
            (out / "killed_at").write_text(repr(time.time()))
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, data)

    del _files
    Path.write_bytes = write_half_then_die
    checkpoint.save(path, new)
    raise AssertionError("unreachable: process 0 was killed while saving")


def main() -> None:
    scenario, out, arg = sys.argv[1], Path(sys.argv[2]), (sys.argv[3:] or ["-"])[0]
    out.mkdir(parents=True, exist_ok=True)
    faulthandler.dump_traceback_later(float(os.environ.get("WORKER_TRACEBACK_AFTER", 1e9)))
    with processes.session():
        if scenario == "train":
            scenario_train(out, arg)
        elif scenario == "rules":
            scenario_rules(out)
        elif scenario.startswith("die-"):
            scenario_die(out, scenario[4:])
        elif scenario == "save-killed":
            scenario_save_killed(out, arg)
        else:
            raise SystemExit(f"unknown scenario {scenario}")


if __name__ == "__main__":  # imported by pytest --doctest-modules: do nothing then
    main()
