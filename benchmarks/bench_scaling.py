"""Data-parallel scaling: one training step of the book's network on 1, 2, 4 and 8 devices.

    python -m benchmarks.bench_scaling [--quick]

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
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

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


def format_rows(table: list[dict]) -> str:
    """The rows as a plain-text table."""
    header = [name for name, _ in COLUMNS]
    cells = [header] + [
        [str(r[k]) if f == "s" else format(r[k], f) for k, f in COLUMNS] for r in table
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 and 8 devices, fewer steps")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_measure(args.quick)))
        return
    table = rows(quick=args.quick)
    print(format_rows(table))
    if table and table[-1]["platform"].startswith("cpu"):
        print(f"note: {NOTE}")


if __name__ == "__main__":
    main()
