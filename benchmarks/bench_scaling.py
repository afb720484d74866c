"""Data-parallel scaling: one training step of the book's network on 1, 2, 4 and 8 devices, and
the cost of several processes (``jax.distributed``) against one.

    python -m benchmarks.bench_scaling [--quick]
    python -m benchmarks.bench_scaling --processes [--quick]

The book's optimizer-comparison network (784-100-100-100-100-10, ReLU, He) with BatchNorm, SGD
0.01, trained by :func:`jaxlearn.train.train` (``lax.scan`` over mini-batches, no evaluation)
with ``mesh=None`` (the one-device program) and ``mesh=N`` (``shard_map`` over N devices:
the batch split, gradients, loss and BatchNorm statistics averaged with ``pmean``). Two cases:

- strong scaling: global batch 128 whatever N (each device gets 128/N rows);
- weak scaling: 128 rows per device (global batch 128·N).

On a machine without N accelerators the devices are *host* devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=8``, set for a subprocess that does the
timing) that share the machine's CPU cores: this measures the overhead of the sharded program
(collectives, per-device work split into N programs) and not a speed-up. On N GPUs the same
script measures the real thing. Times exclude compilation; best of 3 repeats.

``--processes``: the book's optimizer comparison (SGD, Momentum, AdaGrad, Adam on the
784-100-100-100-100-10 network) trained data-parallel by ``train(mesh=<every device of every
process>)`` in the layouts of :data:`LAYOUTS`: 1 process with 8 host devices (the reference),
2 processes with 4 each (the same 8 devices, split), and 2 processes with 1 each (the layout
of a 2-core machine: one device, one core per process), all at global batch 128, and the
first and last again at global batch 1024; several processes are one ``jax.distributed`` run on
a localhost coordinator, CPU collectives over gloo. The ratio is what the processes cost at
the same global batch. The layouts are timed in turns (the best of each of 2 rounds),
excluding compilation.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # `python benchmarks/bench_scaling.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

COLUMNS = [
    ("case", "s"),
    ("devices", "d"),
    ("global batch", "d"),
    ("batch/device", "d"),
    ("ms/step", ".3f"),
    ("vs 1 device", ".2f"),
    ("platform", "s"),
]
HIDDEN, BATCH, MAX_DEVICES = [100, 100, 100, 100], 128, 8
NOTE = (
    "host devices share this machine's CPU cores: the table shows the overhead of the sharded "
    "program, not a speed-up (on N GPUs it shows the real scaling)"
)


def _measure(quick: bool) -> list[dict]:
    """Timings in this process (which must see the devices)."""
    import jax
    import numpy as np

    from jaxlearn.nn import mlp
    from jaxlearn.optim import sgd
    from jaxlearn.train import train

    counts = [n for n in (1, 2, 4, 8) if n <= len(jax.devices())]
    if quick:
        counts = sorted({counts[0], counts[-1]})
    iterations = 50 if quick else 200
    rng = np.random.default_rng(0)
    n_rows = BATCH * max(counts)
    data = (rng.random((n_rows, 784), np.float32), rng.integers(0, 10, n_rows).astype(np.int32))
    net, params, state = mlp.init(jax.random.key(0), 784, HIDDEN, 10, use_batchnorm=True)
    opt = sgd(0.01)
    platform = jax.devices()[0].platform
    shared = " (host devices on shared cores: overhead, not speed-up)" if platform == "cpu" else ""

    def per_step(mesh, batch: int) -> float:
        def run():
            r = train(net, params, state, opt, data, key=jax.random.key(1), batch_size=batch,
                      iterations=iterations, progress=False, mesh=mesh)  # fmt: skip
            jax.block_until_ready(r.params)

        run()  # compile
        times = []
        for _ in range(3):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        return min(times) / iterations

    out = []
    for case, batch_of in (
        ("strong scaling: global batch 128", lambda n: BATCH),
        ("weak scaling: 128 rows per device", lambda n: BATCH * n),
    ):
        base = per_step(None, BATCH)
        out.append({"case": case, "devices": 1, "global batch": BATCH, "batch/device": BATCH,
                    "ms/step": 1e3 * base, "vs 1 device": 1.0,
                    "platform": f"{platform}, no mesh"})  # fmt: skip
        for n in counts:
            b = batch_of(n)
            t = per_step(n, b)
            # Weak scaling does n times the work: compare time per 128 rows.
            ratio = base / t if case.startswith("strong") else base * n / t
            out.append({"case": case, "devices": n, "global batch": b, "batch/device": b // n,
                        "ms/step": 1e3 * t, "vs 1 device": ratio,
                        "platform": f"{platform}, mesh={n}{shared}"})  # fmt: skip
    return out


def rows(quick: bool = False) -> list[dict]:
    """The table (keys as :data:`COLUMNS`), timed in a subprocess that sees 8 devices.

    When this process already sees 8 or more devices (GPUs, or host devices set by the
    caller), it times them directly.
    """
    import jax

    if len(jax.devices()) >= MAX_DEVICES:
        return _measure(quick)
    env = dict(os.environ)
    flags = env.get("XLA_FLAGS", "")
    env["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={MAX_DEVICES}".strip()
    env["JAX_PLATFORMS"] = "cpu"
    root = Path(__file__).resolve().parent.parent
    cmd = [sys.executable, "-m", "benchmarks.bench_scaling", "--worker"]
    proc = subprocess.run(
        cmd + (["--quick"] if quick else []), env=env, cwd=root, capture_output=True,
        text=True, timeout=1800,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"bench_scaling worker failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


#: The book's comparison (figure 6-9): its rules at their default settings.
BOOK_RULES = ("sgd", "momentum", "adagrad", "adam")
PROCESS_COLUMNS = [
    ("layout", "s"),
    ("processes", "d"),
    ("devices", "d"),
    ("global batch", "d"),
    ("ms/step", ".3f"),
    ("vs 1 process", ".2f"),
]
#: ``(label, processes, host devices per process, global batch)`` of each timed run. The
#: first of each global batch is the reference ("vs 1 process"). 2 x 1 is the 2-process
#: layout of a 2-core machine (one device, one core, per process; gloo between 2 ranks);
#: 2 x 4 splits the 1-process run's 8 devices over 2 processes (gloo between 8 ranks). The
#: global batch 1024 runs (128 rows per device of the 8) show how the cost goes with the
#: work per step.
LAYOUTS = [
    ("1 process x 8 devices", 1, 8, BATCH),
    ("2 processes x 4 devices", 2, 4, BATCH),
    ("2 processes x 1 device", 2, 1, BATCH),
    ("1 process x 8 devices", 1, 8, 8 * BATCH),
    ("2 processes x 1 device", 2, 1, 8 * BATCH),
]


def _measure_processes(batch: int, quick: bool) -> dict:
    """Seconds per step of each rule, ``train(mesh=<every device of every process>)`` at global
    batch ``batch``, in this process of whatever run started it (after
    ``processes.initialize_from_env()``); process 0 reports."""
    from jaxlearn.train import processes

    processes.initialize_from_env()
    import jax
    import numpy as np

    from jaxlearn.nn import mlp
    from jaxlearn.optim import RULES
    from jaxlearn.train import train

    iterations = max(50, 200 * BATCH // batch) // (10 if quick else 1)
    rng = np.random.default_rng(0)
    n_rows = 8192  # every device holds the training set: MNIST's 60,000 rows 8 x 2 times over
    data = (rng.random((n_rows, 784), np.float32), rng.integers(0, 10, n_rows).astype(np.int32))
    net, params, state = mlp.init(jax.random.key(0), 784, HIDDEN, 10)  # the book's: He, ReLU
    out = {}
    for name in BOOK_RULES:
        opt = RULES[name]()
        times = []
        for _ in range(4):  # the first compiles
            start = time.perf_counter()
            r = train(net, params, state, opt, data, key=jax.random.key(1), batch_size=batch,
                      iterations=iterations, progress=False,
                      mesh=jax.device_count())  # fmt: skip
            jax.block_until_ready(r.params)
            times.append(time.perf_counter() - start)
        out[name] = min(times[1:]) / iterations
    processes.finish()
    return out


def _launch(processes: int, devices: int, batch: int, quick: bool) -> dict:
    """Run ``--processes-worker`` as ``processes`` processes of one run, ``devices`` host
    devices each; process 0's timings."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = Path(__file__).resolve().parent.parent
    cmd = [sys.executable, "-m", "benchmarks.bench_scaling", "--processes-worker",
           "--batch", str(batch)] + (["--quick"] if quick else [])  # fmt: skip
    procs = []
    for i in range(processes):
        env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
        env.update(JAX_PLATFORMS="cpu",
                   XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")  # fmt: skip
        if processes > 1:
            env.update(JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}",
                       JAX_NUM_PROCESSES=str(processes), JAX_PROCESS_ID=str(i))  # fmt: skip
        procs.append(subprocess.Popen(
            cmd, env=env, cwd=root, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        ))  # fmt: skip
    try:
        outs = [p.communicate(timeout=1800) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    if any(p.returncode for p in procs):
        raise RuntimeError("bench_scaling processes worker failed:\n" + "\n".join(
            f"--- process {i}:\n{o}\n{e[-3000:]}" for i, (o, e) in enumerate(outs)))
    return json.loads(outs[0][0].strip().splitlines()[-1])


def processes_rows(quick: bool = False, rounds: int = 2) -> list[dict]:
    """The book's comparison in each of :data:`LAYOUTS` (keys as :data:`PROCESS_COLUMNS`, one
    row per layout and rule, and the mean over the rules); "vs 1 process" against the
    1-process run at the same global batch."""
    layouts = LAYOUTS[:3] if quick else LAYOUTS
    best: dict[int, dict] = {}
    for _ in range(1 if quick else rounds):  # in turns: drift hits every layout alike
        for k, (_, p, d, batch) in enumerate(layouts):
            got = _launch(p, d, batch, quick)
            best[k] = {r: min(v, best.get(k, got)[r]) for r, v in got.items()}
    base: dict[int, dict] = {}  # the first 1-process run of each global batch
    for k, (_, p, _, batch) in enumerate(layouts):
        if p == 1:
            base.setdefault(batch, best[k])
    out = []
    for k, (label, p, d, batch) in enumerate(layouts):
        for rule in [*BOOK_RULES, "mean"]:
            t, ref = best[k], base[batch]
            ms = 1e3 * (np.mean(list(t.values())) if rule == "mean" else t[rule])
            ref_ms = 1e3 * (np.mean(list(ref.values())) if rule == "mean" else ref[rule])
            out.append({"layout": f"{label}: {rule}", "processes": p, "devices": p * d,
                        "global batch": batch, "ms/step": ms,
                        "vs 1 process": ms / ref_ms})  # fmt: skip
    return out


def format_rows(table: list[dict], columns: list = COLUMNS) -> str:
    """The rows as a plain-text table."""
    header = [name for name, _ in columns]
    cells = [header] + [
        [str(r[k]) if f == "s" else format(r[k], f) for k, f in columns] for r in table
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 and 8 devices, fewer steps")
    parser.add_argument("--processes", action="store_true",
                        help="1 process x 8 devices against 2 processes x 4 and x 1 "
                        "(jax.distributed)")  # fmt: skip
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--processes-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=BATCH, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_measure(args.quick)))
        return
    if args.processes_worker:
        print(json.dumps(_measure_processes(args.batch, args.quick)))
        return
    if args.processes:
        print(format_rows(processes_rows(args.quick), PROCESS_COLUMNS))
        print("note: every layout shares this machine's cores; a ratio is the cost of the "
              "processes (gloo collectives between them) at the same global batch, not a "
              "speed-up")
        return
    table = rows(quick=args.quick)
    print(format_rows(table))
    if table and table[-1]["platform"].startswith("cpu"):
        print(f"note: {NOTE}")


if __name__ == "__main__":
    main()
