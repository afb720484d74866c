"""Several processes for real: local ``jax.distributed`` runs (2 processes x 4 host devices,
4 x 2, and 2 x 1 for the rules; a localhost coordinator, CPU collectives), against 1 process.

The runs are started and reaped by tests/_multiprocess.py (no process outlives a test) and
shared by the tests below through ``once`` (each run once per session). The references are
the 1-process runs of tests/_distributed_worker.py, on 1 device and on 8.
"""

from __future__ import annotations

import json
import re
import sys

import jax
import numpy as np
import pytest
from _distributed_worker import ATOL, RTOL
from _multiprocess import (
    CELLS,
    FIRST_RUN,
    SMALL_SEARCH,
    SUITE_ALL,
    SUITE_ARGS,
    WORKER,
    cell_value,
    launch,
    multi_process_run,
    once,
    one_process_run,
    select,
    sharded_state,
    tree_bits,
)

import jaxlearn as jl
from jaxlearn import checkpoint
from jaxlearn.checkpoint import CheckpointError
from jaxlearn.train import processes

#: The tests of several processes (most start them): `-m "not multiprocess"` leaves them out.
pytestmark = pytest.mark.multiprocess

RUNS = {"2x4": (2, 4), "4x2": (4, 2)}
#: The runs that train every rule: RUNS, and 2 processes x 1 host device (2 global devices),
#: the layout that suits a 2-core machine (docs/scaling.md, "Multi-process overhead").
RULE_RUNS = {**RUNS, "2x1": (2, 1)}


@pytest.fixture(scope="session")
def reference(shared_tmp):
    """The 1-process runs: ``(results, folder)``; ``folder/reference*.npz`` hold the arrays."""
    return once(shared_tmp, "1x8", one_process_run)


@pytest.fixture(scope="session")
def runs(shared_tmp):
    """``{'2x4': (results, folder), '4x2': (...)}``: the 4-process run restores the
    checkpoint the 2-process run saved and resumes its cells."""
    two = once(shared_tmp, "2x4", lambda folder: multi_process_run(folder, 2, 4))
    four = once(shared_tmp, "4x2", lambda folder: multi_process_run(folder, 4, 2, str(two[1])))
    return {"2x4": two, "4x2": four}


@pytest.fixture(scope="session")
def two_by_one(shared_tmp):
    """2 processes x 1 host device training every rule (tests/_multiprocess_worker.py's
    ``rules`` scenario): ``(results, folder)``."""
    return once(shared_tmp, "2x1",
                lambda folder: multi_process_run(folder, 2, 1, scenario="rules"))  # fmt: skip


def _rule_run(request, run):
    """``(results, folder)`` of the run named ``run`` (a key of RULE_RUNS); only the fixture
    that run needs is started."""
    if run == "2x1":
        return request.getfixturevalue("two_by_one")
    return request.getfixturevalue("runs")[run]


def _leaves(archive, prefix):
    return select(archive, prefix)


#: Leaves that are amplified rounding noise under AdaGrad/RMSprop/Adam with the book's eps:
#: the hidden biases that feed BatchNorm (their true gradient is exactly 0), the running
#: means that include them, and their moments. See ADAPTIVE_EPS in tests/_distributed_worker.py.
NOISE = re.compile(r"\['b[12]'\]|\['mean[12]'\]")
#: The rules that divide by a root-mean-square of the gradients, and the size below which a
#: NOISE leaf's value is rounding noise (a real step of theirs moves a bias by about lr).
ADAPTIVE, NOISE_SIZE = ("adagrad", "rmsprop", "adam"), 1e-4


def test_each_step_over_processes_equals_one_device_to_rounding(runs):
    """One data-parallel step over the processes' 8 devices from the same state, batch and key
    as one device's step: params, BatchNorm statistics, optimizer state and loss differ by
    one step's rounding, for every rule (6 steps each). The leaves that only rounding noise
    moves (NOISE: their true gradient is 0) under the adaptive rules, which divide that noise
    by its own root-mean-square plus eps (AdaGrad at lr 0.01, eps 1e-4: a gradient rounding
    of 1e-8 moves a bias by 1e-6 per step), are bounded by their size instead: both runs'
    values are noise-sized (below NOISE_SIZE, where one real adaptive step moves a bias by
    about lr = 1e-2) and differ by at most both sizes. Adam at the book's eps is bounded in
    the next test. On 2 processes: the 4-process run's trajectories are bit-identical to
    the 2-process run's."""
    run = "2x4"
    results, _ = runs[run]
    assert sorted(results["steps"]) == sorted([*jl.optim.RULES, "adam_book"])
    for name, leaves in results["steps"].items():
        kinds = {leaf.split("[")[0].split(".")[0] for leaf in leaves}
        assert {"params", "state", "loss"} <= kinds, (name, kinds)
        for leaf, (diff, size) in leaves.items():
            if name in ADAPTIVE and NOISE.search(leaf) and leaf.startswith("params"):
                assert size < NOISE_SIZE and diff <= 2 * size + 1e-6, (run, name, leaf, diff,
                                                                       size)  # fmt: skip
                continue
            if name == "adam_book" and NOISE.search(leaf):
                continue
            rtol, atol = (1e-4, 1e-6) if leaf.startswith("opt_state") else (RTOL, 1e-6)
            assert diff <= atol + rtol * size, (run, name, leaf, diff, size)


#: A rounding-size difference can flip a discrete event (a ReLU input crossing 0) and the
#: trajectories then part by more than rounding, as two BLAS libraries' would: after at least
#: this many steps of agreement, and within the bounds below.
AGREE_FIRST, LOSS_DRIFT, PARAM_DRIFT = 10, 2e-3, 1e-2


@pytest.mark.parametrize("run", list(RULE_RUNS))
def test_every_rule_over_processes_trains_as_one_process(reference, request, run):
    """train(mesh=N) over all the processes' devices (N = 8 as 2 x 4 and 4 x 2; N = 2 as
    2 processes x 1 device), 50 steps with BatchNorm, Dropout and weight decay: params,
    BatchNorm statistics, optimizer state, losses and accuracies equal the 1-process,
    1-device run's to rounding, for every rule; or, when a rounding-size
    difference flips a discrete event (seen: AdaGrad, at step 21, in both multi-process runs
    alike, when each gradient leaf was averaged by its own collective), the losses agree to
    rounding for AGREE_FIRST steps first and then stay within LOSS_DRIFT, the parameters
    within PARAM_DRIFT. The per-step test above is the exact one."""
    results, folder = _rule_run(request, run)
    ref = np.load(reference[1] / "reference.npz")
    got = np.load(folder / "rules.npz")
    processes_, devices = RULE_RUNS[run]
    assert (results["processes"], results["devices"]) == (processes_, processes_ * devices)
    assert sorted(results["rules"]) == sorted([*jl.optim.RULES, "adam_book"])
    departed = []
    for name in jl.optim.RULES:  # the adaptive rules at eps = 1e-4 (ADAPTIVE_EPS)
        one, multi = _leaves(ref, f"{name}/one/"), _leaves(got, f"{name}/multi/")
        assert sorted(one) == sorted(multi)
        assert multi["loss"][-1] < multi["loss"][0], name
        apart = np.flatnonzero(np.abs(multi["loss"] - one["loss"]) > 1e-5)
        if apart.size:  # a flip: bounded, after agreeing first
            departed.append((name, int(apart[0])))
            assert apart[0] >= AGREE_FIRST, (run, name, apart[0])
            np.testing.assert_allclose(multi["loss"], one["loss"], atol=LOSS_DRIFT)
            for leaf in (k for k in multi if k.startswith("params")):
                np.testing.assert_allclose(multi[leaf], one[leaf], rtol=0,
                                           atol=PARAM_DRIFT, err_msg=f"{run} {name} {leaf}")
            continue
        for leaf, value in multi.items():
            tol = (1e-4, 1e-6) if leaf.startswith("opt_state") else (RTOL, ATOL)
            if leaf.endswith("_acc"):  # counts of correct examples: at most one flips
                tol = (0, 1.5 / 37)
            np.testing.assert_allclose(value, one[leaf], *tol, err_msg=f"{run} {name} {leaf}")
    assert len(departed) <= 1, departed  # a chance event, not the rule
    print(f"{run}: departed after a flip: {departed or 'none'}", file=sys.stderr)


@pytest.mark.parametrize("run", list(RULE_RUNS))
def test_adams_amplified_rounding_is_bounded_by_the_one_process_8_device_difference(
    reference, request, run
):
    """Adam at the book's eps = 1e-7 turns the rounding noise of the zero gradient of the
    biases before BatchNorm into steps of up to lr: those biases (and the running means and
    moments that carry them) differ between any two runs that sum in another order. The
    bound: the multi-process run departs from 1 device by at most 2x what 1 process on 8
    devices already departs (plus rounding; 2 x 1 sums 2 halves of the batch, another order
    again); every other leaf and the losses are within rounding, as for the other rules."""
    _, folder = _rule_run(request, run)
    ref = np.load(reference[1] / "reference.npz")
    got = np.load(folder / "rules.npz")
    one, many = _leaves(ref, "adam_book/one/"), _leaves(ref, "adam_book/many/")
    multi = _leaves(got, "adam_book/multi/")
    noisy = 0
    for leaf, value in multi.items():
        if NOISE.search(leaf):
            spread = np.max(np.abs(many[leaf] - one[leaf]))
            assert np.max(np.abs(value - one[leaf])) <= 2 * spread + ATOL, (run, leaf, spread)
            noisy += spread > 10 * ATOL
        elif not leaf.endswith("_acc"):
            tol = (1e-4, 1e-5) if leaf.startswith("opt_state") else (RTOL, ATOL)
            np.testing.assert_allclose(value, one[leaf], *tol, err_msg=f"{run} {leaf}")
    assert noisy, "the book's eps amplifies nothing here: the test has no power"


def test_gloos_socket_thread_runs_at_the_lowest_priority_in_every_process(two_by_one):
    """initialize_from_env lowered one thread per process, to nice 19: gloo's socket thread
    (unnamed, so it carries the process's name; waiting in epoll_wait, or running). At its
    normal priority it busy-waits on a core the other process's computation needs
    (jaxlearn/train/socket_thread.py)."""
    results, _ = two_by_one
    lowered = results["lowered_threads"]
    assert len(lowered) == 2, lowered
    for threads in lowered:
        assert len(threads) == 1, lowered
        ((unnamed, wchan, nice),) = threads
        assert unnamed and wchan in ("do_epoll_wait", "0") and nice == 19, lowered


def test_dropout_masks_and_errors_over_processes(runs):
    """Dropout over the processes' devices draws the global batch's masks; a batch the devices
    do not divide, and a device count the processes do not divide, are one line each."""
    for run, (results, _) in runs.items():
        assert results["dropout_forward"] < 1e-5, run
        batch, devices = results["errors"]
        assert batch.startswith("batch_size (30) is not divisible by the 8 devices"), batch
        n = RUNS[run][0]
        assert devices.startswith(f"devices: 3 requested over {n} processes"), devices
        assert f"give a multiple of {n}" in devices


def test_train_many_trials_split_over_processes(reference, runs):
    results, folder = runs["2x4"]
    assert results["train_many_devices"] == 8  # the result spans both processes
    one = _leaves(np.load(reference[1] / "reference_train_many.npz"), "train_many/one/")
    multi = _leaves(np.load(folder / "train_many.npz"), "train_many/multi/")
    assert sorted(one) == sorted(multi)
    for leaf, value in multi.items():
        assert value.shape[0] == 10, leaf  # the 6 padding copies are dropped
        if not leaf.endswith("_acc"):
            np.testing.assert_allclose(value, one[leaf], RTOL, ATOL, err_msg=leaf)


def test_search_command_over_processes_writes_once_and_equals_one_process(
    runs, tmp_path, monkeypatch, capsys
):
    """``jaxlearn search`` started as 2 processes: process 0 prints the report and writes the
    files, process 1 neither; the search equals the 1-process one (here, in this process)."""
    import jaxlearn.experiments as ex
    from jaxlearn import cli

    results, folder = runs["2x4"]
    first, second = results["search"]
    assert first["status"] == 0 and second["status"] == 0, results["search"]
    assert "Hyper-parameter search" in first["stdout"] and "trials split over 8 devices" in (
        first["stdout"]
    )
    assert second["stdout"] == "" and "search.json" not in second["stderr"]
    written = sorted(p.name for p in (folder / "search").iterdir())
    assert written == ["search.csv", "search.json", "search.png", "search_map.png"]
    monkeypatch.setattr(ex, "hyperparameter_search",
                        _partial(ex.hyperparameter_search, **SMALL_SEARCH))  # fmt: skip
    assert cli.main(["search", "--dataset", "mnist-5k", "--quick", "--seed", "0",
                     "--no-progress", "--out", str(tmp_path)]) == 0  # fmt: skip
    capsys.readouterr()
    one = json.loads((tmp_path / "search.json").read_text())
    multi = json.loads((folder / "search" / "search.json").read_text())
    assert one["config"].pop("devices") == 1 and multi["config"].pop("devices") == 8
    assert one["config"] == multi["config"]
    np.testing.assert_array_equal(multi["lr"], one["lr"])  # the same trials, the same ranking
    np.testing.assert_array_equal(multi["weight_decay"], one["weight_decay"])
    n_val = one["config"]["validation_size"]
    np.testing.assert_allclose(multi["val_acc"], one["val_acc"], atol=1.5 / n_val)


def _untimed(tree):
    """A cell without its timings (the cell's, compilation's, per step), which differ between
    any two runs, and without the bookkeeping a written cell carries (its configuration)."""
    if isinstance(tree, dict):
        return {k: _untimed(v) for k, v in tree.items()
                if "seconds" not in k and k not in ("config", "hash", "fingerprint")}
    return [_untimed(v) for v in tree] if isinstance(tree, list) else tree


def test_suite_command_over_processes_spreads_cells_writes_once_and_resumes(runs):
    """``jaxlearn suite`` started as 2 processes computes one cell on each, process 0 prints
    and writes, process 1 neither; started as 4 on the same folder with two more rules, it
    reads those 2 cells back and computes the new ones on processes 0 and 1. Every cell
    equals one process's (here, in this process), bit for bit, timings apart."""
    from jaxlearn.suite import runner

    two, folder = runs["2x4"]
    four, _ = runs["4x2"]
    for results in (two, four):
        assert [r["status"] for r in results["suite"]] == [0] * len(results["suite"]), (
            results["suite"])
        assert all(r["stdout"] == "" for r in results["suite"][1:]), results["suite"]
    printed = two["suite"][0]["stdout"]
    assert re.search(r"\[1/2\] book_function · SGD: [\d.]+ s \(process 0\)", printed), printed
    assert re.search(r"\[2/2\] book_function · Adam: [\d.]+ s \(process 1\)", printed), printed
    printed = four["suite"][0]["stdout"]
    for k, name in ((1, "SGD"), (2, "Adam")):
        assert f"[{k}/4] book_function · {name}: read back from" in printed, printed
    assert re.search(r"\[3/4\] book_function · \S+: [\d.]+ s \(process 0\)", printed), printed
    assert re.search(r"\[4/4\] book_function · \S+: [\d.]+ s \(process 1\)", printed), printed
    out = folder / "suite"
    assert len(list((out / "cells" / "book_function").glob("*.json"))) == len(SUITE_ALL)
    assert {"suite.json", "suite.csv", "verdicts.json"} <= {p.name for p in out.iterdir()}
    multi = json.loads((out / "suite.json").read_text())["cells"]["book_function"]
    budget, seeds = (int(SUITE_ARGS[SUITE_ARGS.index(o) + 1]) for o in ("--budget", "--seeds"))
    one = runner.run(SUITE_ALL, problems=["book_function"], budget=budget, seeds=seeds,
                     quick=True, log=None, progress=False)["cells"]["book_function"]  # fmt: skip
    assert list(multi) == list(one) == SUITE_ALL
    for spec in SUITE_ALL:  # JSON text: NaN (a diverged trial) equals NaN
        assert json.dumps(_untimed(multi[spec]), sort_keys=True) == json.dumps(
            _untimed(one[spec]), sort_keys=True), spec


def _partial(fn, **kw):
    import functools

    return functools.partial(fn, **kw)


def test_checkpoint_sharded_over_2_processes_restores_on_1_2_and_4(runs):
    """A state sharded over 2 processes (params, BatchNorm state and Adam's moments split over
    the processes' devices; key, step and a bf16 leaf replicated), saved once, restores bit
    for bit on 2 processes (the same run), on 4 (another run) and on 1 (here)."""
    two, folder = runs["2x4"]
    four, _ = runs["4x2"]
    for run, results in (("2x4", two), ("4x2", four)):
        c = results["checkpoint"]
        assert c["equal"] == c["leaves"] and len(c["leaves"]) > 20, (run, c)
        assert c["over_trials"] and c["devices"] == 8, (run, c)
    like = sharded_state(None, seed=2)
    back = checkpoint.load(folder / "state.jlckpt", like=like)
    expected = np.load(folder / "state_expected.npz")
    got = tree_bits(back)
    assert sorted(got) == sorted(expected.files)
    for leaf in expected.files:
        np.testing.assert_array_equal(got[leaf], expected[leaf], err_msg=leaf)
    assert not np.array_equal(tree_bits(like)["['params']['W1']"], expected["['params']['W1']"])


def test_cells_over_processes_and_resumed_with_another_process_count(runs):
    """processes.share/gather/broadcast/map_cells with plain Python cells: 2 processes compute
    the first cells and process 0 alone writes them; 4 processes resume the rest; together
    they equal one process's results. A cell that fails on process 1 is raised on process 0."""
    two, folder = runs["2x4"]
    four, _ = runs["4x2"]
    assert two["share"] == [CELLS[0::2], CELLS[1::2]]
    assert four["share"] == [CELLS[p::4] for p in range(4)]
    assert two["gather"] == [{"index": p, "pair": [p, 10 * p]} for p in range(2)]
    assert four["broadcast"] == [{"from": 0, "n": 4}] * 4
    assert two["map_cells"] == [cell_value(c) for c in CELLS[:FIRST_RUN]]
    assert four["resumed"] == {"done_before": CELLS[:FIRST_RUN], "todo": CELLS[FIRST_RUN:]}
    assert four["map_cells"] == [cell_value(c) for c in CELLS[FIRST_RUN:]]
    files = sorted((folder.parent / "cells").glob("*.json"), key=lambda p: int(p.stem))
    assert [json.loads(p.read_text()) for p in files] == [cell_value(c) for c in CELLS]
    assert processes.map_cells(cell_value, CELLS) == [cell_value(c) for c in CELLS]  # 1 process
    for results, n in ((two, 2), (four, 4)):
        bad = n + 1
        assert results["failed_cell"][0] == (
            f"ProcessError: cell {bad} failed on process 1: ValueError: bad cell {bad}"
        )
        assert results["failed_cell"][1] == f"ValueError: bad cell {bad}"


def test_zero1_splits_the_optimizer_state_over_the_data_axis_and_changes_no_result(
    reference, runs
):
    """train(mesh=8, shard_opt_state=True): each device keeps 1/8 of the optimizer state (at
    most 1/8 + 5 % of the replicated state's bytes on a device: padding and the step count)
    and the params, losses and state equal the replicated run's, on 1 process (Adam, and the
    flat mode) and over 2 processes (Adam)."""
    found = {"1x8": reference[0]["zero"], "2x4": runs["2x4"][0]["zero"]}
    assert sorted(found["1x8"]) == ["adam", "flat adam"]
    for where, records in found.items():
        for rule, r in records.items():
            ratio = r["bytes_sharded"] / r["bytes_replicated"]
            assert ratio <= 1 / 8 + 0.05, (where, rule, r)
            assert r["params"] <= 1e-6 and r["loss"] <= 1e-6, (where, rule, r)
            assert r["opt_state"] <= 1e-6, (where, rule, r)
            print(f"ZeRO-1 {where} {rule}: {r['bytes_sharded']} of {r['bytes_replicated']} "
                  f"bytes per device ({ratio:.4f}); params {r['params']:.1e}, "
                  f"loss {r['loss']:.1e}, state {r['opt_state']:.1e}", file=sys.stderr)


# --- failure: loud and bounded ----------------------------------------------------------------


@pytest.mark.parametrize("where", ["collective", "local"])
def test_a_killed_process_stops_the_others_within_60_s(tmp_path, where):
    """Process 1 is killed (SIGKILL) while process 0 trains with it (data-parallel) or works
    alone (waits for a cell). JAX's coordinator declares process 1 dead after the heartbeat
    timeout (20 s) and ends process 0 (SIGABRT) with a message that says another task died;
    in a collective, gloo may report the closed connection first (a Python error: the
    process then ends at once, status 1). Either way: non-zero, within 60 s."""
    finished = launch([WORKER, f"die-{where}", tmp_path], 2, 4, timeout=120,
                      stop_all_on_failure=False)  # fmt: skip
    zero, one = finished
    assert one.returncode == -9, one.log()
    assert zero.returncode not in (0, None), zero.log()
    assert (tmp_path / "died_at").exists(), zero.log()
    seconds = zero.seconds - one.seconds  # both measured by the launcher
    assert 0 <= seconds < 60, (seconds, zero.log())
    heartbeat = (
        "Terminating process because the JAX distributed service detected fatal errors. This "
        "most likely indicates that another task died" in zero.stderr
        and "stopped sending heartbeats" in zero.stderr
    )
    gloo = "Gloo" in zero.stderr and "Connection closed by peer" in zero.stderr
    assert heartbeat or (where == "collective" and gloo and zero.returncode == 1), zero.log()
    print(f"{where}: process 0 ended {seconds:.1f} s after process 1 was killed "
          f"(status {zero.returncode}, {'heartbeat' if heartbeat else 'gloo'})",
          file=sys.stderr)  # fmt: skip


def test_a_writer_killed_while_saving_leaves_the_previous_checkpoint(tmp_path):
    """Process 0 dies half-way through writing a checkpoint of an array sharded over 2
    processes: the previous file loads, bit for bit; the torn temporary file is an error."""
    path = tmp_path / "ckpt.jl"
    finished = launch([WORKER, "save-killed", tmp_path, path], 2, 4, timeout=120)
    assert finished[0].returncode == -9 and (tmp_path / "killed_at").exists(), finished[0].log()
    back = checkpoint.load(path)
    np.testing.assert_array_equal(np.asarray(back["w"]), np.load(tmp_path / "old.npy"))
    assert back["step"] == 1
    (torn,) = tmp_path.glob(".ckpt.jl.*.part")
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        checkpoint.load(torn)


def test_wrong_coordinator_address_is_one_line(monkeypatch, capsys):
    """Checked before JAX starts (JAX itself would end the process after its timeout, with a
    C++ log): an address that is not this machine's for process 0, a malformed one, a
    partial set of variables."""
    from jaxlearn import cli

    cases = {
        "192.0.2.1:1234": "process 0 runs the coordinator there, but 192.0.2.1 is not an "
        "address of this machine",
        "localhost": "expected host:port",
    }
    for address, message in cases.items():
        monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", address)
        monkeypatch.setenv("JAX_NUM_PROCESSES", "2")
        monkeypatch.setenv("JAX_PROCESS_ID", "0")
        assert cli.main(["paths", "--out", "unused"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("jaxlearn: error: ") and message in err and err.count("\n") == 1
    monkeypatch.delenv("JAX_PROCESS_ID")
    assert cli.main(["paths"]) == 2
    assert "JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES are set but not JAX_PROCESS_ID" in (
        capsys.readouterr().err
    )
    assert not jax.distributed.is_initialized()


def test_unreachable_coordinator_is_an_error_after_the_timeout():
    from _multiprocess import free_port

    env = {"JAX_COORDINATOR_ADDRESS": f"127.0.0.1:{free_port()}", "JAX_NUM_PROCESSES": "2",
           "JAX_PROCESS_ID": "1"}  # fmt: skip
    with pytest.raises(processes.ProcessError, match=r"process 1 of 2: cannot reach the "
                       r"coordinator at 127\.0\.0\.1:\d+ \(JAX_COORDINATOR_ADDRESS\) within"):
        processes.initialize_from_env(timeout=1.0, environ=env)  # fmt: skip


def test_a_missing_process_is_one_line_within_the_timeout():
    """Process 0 of 2 alone: after the timeout, one line naming the fix and status 2 (not
    JAX's C++ abort after its own, longer timeout)."""
    script = ("from jaxlearn.train import processes; "
              "processes.initialize_from_env(timeout=3); print('started')")  # fmt: skip
    (alone,) = launch(["-c", script], 2, 1, timeout=60, only=[0])
    assert alone.returncode == 2 and alone.seconds < 30, alone.log()
    address = _address(alone)
    assert alone.stderr.strip().splitlines()[-1] == (
        "jaxlearn: error: process 0 of 2: the other processes did not all connect to the "
        f"coordinator at {address} within 3 s: start all 2 processes with "
        f"JAX_COORDINATOR_ADDRESS={address}, JAX_NUM_PROCESSES=2 and their own "
        "JAX_PROCESS_ID in 0..1"
    ), alone.log()


def test_mismatched_process_count_on_the_command_line(tmp_path):
    """``jaxlearn search`` as 2 processes where process 1 is told there are 3: process 1 says
    so in one line (status 2); process 0, left alone at the search's first collective, stops
    too, saying that another process stopped."""
    cmd = ["-c", "from jaxlearn.cli import console_main; console_main()", "search",
           "--dataset", "mnist-5k", "--quick", "--no-progress", "--out", tmp_path]  # fmt: skip
    zero, one = launch(cmd, 2, 4, timeout=120, stop_all_on_failure=False,
                       per_process_env=lambda i: {"JAX_NUM_PROCESSES": "3"} if i else {})
    assert one.returncode == 2, one.log()
    assert one.stderr.strip().splitlines()[-1] == (
        f"jaxlearn: error: process 1 of 3: JAX_NUM_PROCESSES=3 here, but the run at the "
        f"coordinator at {_address(one)} has 2 processes: give every process the same "
        "JAX_NUM_PROCESSES"
    ), one.log()
    assert zero.returncode not in (0, None) and zero.seconds - one.seconds < 60, zero.log()
    assert "another process of this jax.distributed run stopped" in zero.stderr or (
        "Terminating process because the JAX distributed service detected fatal errors"
        in zero.stderr
    ), zero.log()
    print(f"mismatch: process 0 ended {zero.seconds - one.seconds:.1f} s after process 1, "
          f"status {zero.returncode}: {zero.stderr.strip().splitlines()[-1][:300]}",
          file=sys.stderr)  # fmt: skip


def _address(finished) -> str:
    return re.search(r"coordinator at (127\.0\.0\.1:\d+)", finished.stderr).group(1)


def test_launch_from_env_reads_jax_and_slurm_variables():
    """Which run the environment describes, without starting anything."""
    read = processes.launch_from_env
    assert read({}) == processes.Launch("none")
    jax_vars = {"JAX_COORDINATOR_ADDRESS": "[::1]:1234", "JAX_NUM_PROCESSES": "4",
                "JAX_PROCESS_ID": "3"}  # fmt: skip
    assert read(jax_vars) == processes.Launch("jax", 4, 3, "[::1]:1234")
    slurm = {"SLURM_JOB_ID": "7", "SLURM_STEP_NODELIST": "node[01-02]", "SLURM_NTASKS": "2",
             "SLURM_PROCID": "1", "SLURM_LOCALID": "0"}  # fmt: skip
    assert read(slurm) == processes.Launch("slurm", 2, 1)
    assert read({**slurm, "SLURM_NTASKS": "1"}) == processes.Launch("none")  # one task
    assert read({"SLURM_JOB_ID": "7"}) == processes.Launch("none")  # salloc, no srun
    assert read({**slurm, **jax_vars}).source == "jax"  # JAX's variables first
    for bad, message in (
        ({**jax_vars, "JAX_PROCESS_ID": "4"}, r"JAX_PROCESS_ID=4 with JAX_NUM_PROCESSES=4: the "
         r"ids are 0\.\.3"),
        ({**jax_vars, "JAX_NUM_PROCESSES": "two"}, "JAX_NUM_PROCESSES='two' is not a whole"),
        ({**jax_vars, "JAX_COORDINATOR_ADDRESS": "host:99999"}, "expected host:port"),
        ({"JAX_PROCESS_ID": "0"}, "JAX_PROCESS_ID is set but not JAX_COORDINATOR_ADDRESS, "
         "JAX_NUM_PROCESSES"),
    ):  # fmt: skip
        with pytest.raises(processes.ProcessError, match=message):
            read(bad)


def test_collectives_on_one_process_are_local_and_json_decoded():
    assert processes.process_count() == 1 and processes.is_writer() and processes.owner(5, 2) == 1
    assert processes.gather((1, 2.5)) == [[1, 2.5]]  # a tuple comes back as a list, as on N
    assert processes.broadcast({"a": (1,)}) == {"a": [1]}
    with pytest.raises(TypeError, match="the result of cell 0 must be JSON-able"):
        processes.map_cells(lambda c: np.float32(c), [1])
    with pytest.raises(TypeError, match="gather's value must be JSON-able"):
        processes.gather(object())
    processes.finish(3)  # one process: returns (the caller exits as usual)
