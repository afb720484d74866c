"""Many independent cells spread over the processes of a ``jax.distributed`` run.

A *cell* is a unit of work whose result depends on its own inputs only: a trial of a search, a
(problem, optimizer, seed) run of a benchmark. Started as N processes, a program gives each
process its share of the cells, collects the results on process 0 and lets process 0 alone
write files. Each cell is computed as one process computes it, so the results do not depend
on N (and a run can be resumed with another N).

How the processes find each other (read by :func:`initialize_from_env`, in this order):

- ``JAX_COORDINATOR_ADDRESS=host:port``, ``JAX_NUM_PROCESSES=N``, ``JAX_PROCESS_ID=i`` on every
  process (``jax.distributed`` reads the first itself; jaxlearn reads the other two and passes
  them on). Process 0 runs the coordinator at ``host:port``.
- SLURM (``srun``): nothing to set; ``jax.distributed.initialize()`` reads SLURM's variables.
- neither: one process; nothing is initialized and every function below works locally.

The program, the same on every process (the benchmark suite's shape)::

    from jaxlearn.train import processes

    processes.initialize_from_env()        # first, before any other JAX call
    done = processes.broadcast(sorted(finished(out)) if processes.is_writer() else None)
    todo = [c for c in cells if c.name not in done]        # resume, whatever N was before
    results = processes.map_cells(run_cell, todo, on_result=lambda i, r: write(out, todo[i], r))
    processes.finish()                     # every process leaves together

:func:`gather`, :func:`broadcast`, :func:`barrier` and :func:`map_cells` are *collective*:
every process calls them, in the same order, as with JAX's own collectives. Values travel as
JSON through the coordinator's key-value store (no device computation, nothing to compile),
so they must be JSON-able; they come back JSON-decoded on every process count, one included,
so results are identical whatever N.

Failure is loud and bounded: a process that cannot start says why in one line within
``timeout`` seconds; a process that dies (killed, or ended by :func:`finish` after an error)
makes the others stop, with JAX's message, within ``heartbeat_timeout`` seconds (at once when
they are waiting on it in a collective). See ``docs/scaling.md``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import itertools
import json
import os
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import jax

from jaxlearn._compat import backends_initialized, distributed_client
from jaxlearn.train import socket_thread

__all__ = [
    "Launch",
    "ProcessError",
    "barrier",
    "broadcast",
    "describe_failure",
    "finish",
    "gather",
    "initialize_from_env",
    "is_writer",
    "launch_from_env",
    "map_cells",
    "owner",
    "process_count",
    "process_index",
    "session",
    "share",
]


#: Seconds a process waits for the others to start (and for the coordinator) before it stops.
TIMEOUT = 60.0
#: Seconds without a heartbeat after which the coordinator declares a process dead and every
#: other process stops (JAX's default is 100).
HEARTBEAT_TIMEOUT = 20
#: Seconds a process ending normally waits at JAX's shutdown barrier for the others (JAX's
#: default is 300); :func:`finish` brings every process there together.
SHUTDOWN_TIMEOUT = 60
#: Niceness of gloo's socket thread (19: the lowest priority; see initialize_from_env).
SOCKET_THREAD_NICE = 19
#: Key-value store namespace of this module's collectives.
_PREFIX = "jaxlearn/processes"
#: Collective calls made so far in this process: every process makes the same calls in the
#: same order, so the n-th call has the same key everywhere (as the n-th JAX collective).
_calls = itertools.count()


class ProcessError(RuntimeError):
    """A ``jax.distributed`` run that cannot start or go on; the message names the fix."""


# ---------------------------------------------------------------------------------------------
# Starting
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Launch:
    """How this process was started: ``source`` is ``'jax'`` (the ``JAX_*`` variables),
    ``'slurm'`` (``srun``: JAX detects the rest) or ``'none'`` (one process)."""

    source: str
    num_processes: int = 1
    process_id: int = 0
    coordinator: str | None = None


_JAX_VARS = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")
#: What ``jax.distributed`` needs to detect a SLURM job step (its SlurmCluster).
_SLURM_VARS = ("SLURM_JOB_ID", "SLURM_STEP_NODELIST", "SLURM_NTASKS", "SLURM_PROCID",
               "SLURM_LOCALID")  # fmt: skip


def _int_var(env: Mapping[str, str], name: str) -> int:
    try:
        return int(env[name])
    except ValueError:
        raise ProcessError(f"{name}={env[name]!r} is not a whole number") from None


def launch_from_env(environ: Mapping[str, str] | None = None) -> Launch:
    """The :class:`Launch` that the environment describes (``os.environ`` by default).

    Raises :class:`ProcessError` naming the variable when the ``JAX_*`` variables are set
    partly or inconsistently.

    >>> launch_from_env({})
    Launch(source='none', num_processes=1, process_id=0, coordinator=None)
    >>> launch_from_env({'JAX_COORDINATOR_ADDRESS': '10.0.0.1:1234', 'JAX_NUM_PROCESSES': '2',
    ...                  'JAX_PROCESS_ID': '1'})
    Launch(source='jax', num_processes=2, process_id=1, coordinator='10.0.0.1:1234')
    >>> launch_from_env({'JAX_NUM_PROCESSES': '2'})
    Traceback (most recent call last):
    jaxlearn.train.processes.ProcessError: JAX_NUM_PROCESSES is set but not \
JAX_COORDINATOR_ADDRESS, JAX_PROCESS_ID: set all three on every process \
(JAX_COORDINATOR_ADDRESS=host:port of process 0, JAX_NUM_PROCESSES=N, JAX_PROCESS_ID=0..N-1)
    """
    env = os.environ if environ is None else environ
    given = [v for v in _JAX_VARS if env.get(v)]
    if given:
        missing = [v for v in _JAX_VARS if v not in given]
        if missing:
            raise ProcessError(
                f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} set but not "
                f"{', '.join(missing)}: set all three on every process (JAX_COORDINATOR_ADDRESS="
                "host:port of process 0, JAX_NUM_PROCESSES=N, JAX_PROCESS_ID=0..N-1)"
            )
        n, i = _int_var(env, "JAX_NUM_PROCESSES"), _int_var(env, "JAX_PROCESS_ID")
        if n < 1:
            raise ProcessError(f"JAX_NUM_PROCESSES={n}: needs at least 1 process")
        if not 0 <= i < n:
            raise ProcessError(
                f"JAX_PROCESS_ID={i} with JAX_NUM_PROCESSES={n}: the ids are 0..{n - 1}, one "
                "per process"
            )
        address = env["JAX_COORDINATOR_ADDRESS"]
        _split_address(address)
        return Launch("jax", n, i, address)
    if all(env.get(v) for v in _SLURM_VARS) and _int_var(env, "SLURM_NTASKS") > 1:
        return Launch("slurm", _int_var(env, "SLURM_NTASKS"), _int_var(env, "SLURM_PROCID"))
    return Launch("none")


def _split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ProcessError(
            f"JAX_COORDINATOR_ADDRESS={address!r}: expected host:port, e.g. 10.0.0.1:1234 "
            "(process 0's address and a free port)"
        )
    return host.strip("[]"), int(port)


def _check_coordinator(launch: Launch, deadline: float) -> None:
    """Catch a wrong address before JAX does (JAX ends the process, without a Python error,
    after its own timeout): process 0 must be able to serve on it, the others to reach it."""
    address = launch.coordinator
    host, port = _split_address(address)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise ProcessError(
            f"JAX_COORDINATOR_ADDRESS={address}: cannot resolve {host!r} ({e.strerror}); give "
            "process 0's host name or IP address"
        ) from None
    if launch.process_id == 0:
        family, _, _, _, sockaddr = infos[0]
        with socket.socket(family, socket.SOCK_STREAM) as s:
            try:
                s.bind(sockaddr)
            except OSError as e:
                if e.errno == errno.EADDRINUSE:
                    raise ProcessError(
                        f"JAX_COORDINATOR_ADDRESS={address}: port {port} is already in use on "
                        "this machine (another run?): choose another port"
                    ) from None
                raise ProcessError(
                    f"JAX_COORDINATOR_ADDRESS={address}: process 0 runs the coordinator there, "
                    f"but {host} is not an address of this machine ({e.strerror}): start "
                    "process 0 on that host, or give this machine's address"
                ) from None
        return
    while True:
        try:
            with socket.create_connection((host, port), timeout=2.0):
                return
        except OSError as e:
            if time.monotonic() > deadline:
                raise ProcessError(
                    f"process {launch.process_id} of {launch.num_processes}: cannot reach the "
                    f"coordinator at {address} (JAX_COORDINATOR_ADDRESS) within the timeout "
                    f"({e.strerror or e}): start process 0 with that address, or fix the "
                    "address"
                ) from None
            time.sleep(0.2)


@contextlib.contextmanager
def _watchdog(seconds: float, message: str) -> Iterator[None]:
    """Print ``jaxlearn: error: MESSAGE`` and end the process (status 2) if the block has not
    finished within ``seconds``: JAX's own timeouts end it too, but later and with a C++ log
    that does not say what to fix."""

    def fire() -> None:
        print(f"jaxlearn: error: {message}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(2)

    timer = threading.Timer(max(seconds, 0.0), fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def initialize_from_env(
    *,
    timeout: float = TIMEOUT,
    heartbeat_timeout: int = HEARTBEAT_TIMEOUT,
    shutdown_timeout: int = SHUTDOWN_TIMEOUT,
    socket_thread_nice: int | None = SOCKET_THREAD_NICE,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Join the ``jax.distributed`` run the environment describes; the number of processes.

    Call it first, before any other JAX call (JAX refuses to start its distributed runtime
    once a computation ran). Does nothing and returns 1 when the environment names no run
    (or one of 1 process); returns :func:`process_count` when JAX is already initialized.

    Args:
      timeout: seconds to wait for the coordinator and for every process to connect. A wrong
        ``JAX_COORDINATOR_ADDRESS`` is a :class:`ProcessError` at once (process 0: not an
        address of this machine, port in use) or after ``timeout`` (the others: nothing
        there); processes that do not all arrive end every waiting process with one line,
        ``jaxlearn: error: ...``, and status 2.
      heartbeat_timeout: ``jax.distributed.initialize``'s ``heartbeat_timeout_seconds``: a
        process silent this long (killed, crashed) is declared dead and every other process
        ends (JAX's message: ``Terminating process because the JAX distributed service
        detected fatal errors``). Default 20 (JAX's: 100).
      shutdown_timeout: ``jax.distributed.initialize``'s ``shutdown_timeout_seconds``: how
        long a process that ends waits for the others (default 60; JAX's: 300).
      socket_thread_nice: the niceness given to gloo's socket thread on CPU (default 19, the
        lowest priority; None leaves it at the process's). The thread busy-waits while the
        other processes' data waits for this one, on a core the computation needs (why and
        how it is found: :mod:`jaxlearn.train.socket_thread`).
      environ: the variables to read (default ``os.environ``).

    Equivalent to ``jax.distributed.initialize(coordinator, N, i, ...)`` with the values from
    the environment, plus the checks above.

    >>> initialize_from_env(environ={})      # no run described: one process
    1
    """
    if jax.distributed.is_initialized():
        return jax.process_count()
    launch = launch_from_env(environ)
    if launch.source == "none" or launch.num_processes == 1:
        return 1
    me = f"process {launch.process_id} of {launch.num_processes}"
    deadline = time.monotonic() + timeout
    if launch.source == "jax":
        _check_coordinator(launch, deadline)
    if backends_initialized():
        raise ProcessError(
            "initialize_from_env() must run before any JAX computation (or jax.devices()): "
            "call it first thing in the program"
        )
    if launch.source == "jax":
        where = f"the coordinator at {launch.coordinator}"
        fix = (
            f"start all {launch.num_processes} processes with JAX_COORDINATOR_ADDRESS="
            f"{launch.coordinator}, JAX_NUM_PROCESSES={launch.num_processes} and their own "
            f"JAX_PROCESS_ID in 0..{launch.num_processes - 1}"
        )
    else:
        where = "the SLURM job's coordinator"
        fix = "run the job step with srun, one task per process"
    if launch.process_id == 0:
        waited = f"{me}: the other processes did not all connect to {where} within {timeout:g} s"
    else:
        waited = f"{me}: the run at {where} did not start within {timeout:g} s"
    left = deadline - time.monotonic()
    with _watchdog(left, f"{waited}: {fix}"):
        # JAX's own timeout a little later than the watchdog, whose message names the fix.
        kwargs = dict(
            initialization_timeout=int(left) + 30,
            heartbeat_timeout_seconds=heartbeat_timeout,
            shutdown_timeout_seconds=shutdown_timeout,
        )
        if launch.source == "jax":
            jax.distributed.initialize(
                launch.coordinator, launch.num_processes, launch.process_id, **kwargs
            )
        else:
            jax.distributed.initialize(**kwargs)
        before = socket_thread.thread_ids()
        n = jax.process_count()  # every process's devices are known: the run has started
    if socket_thread_nice is not None:  # the backend, and gloo's thread, started just now
        socket_thread.lower(socket_thread.socket_threads(before), socket_thread_nice)
    if n != launch.num_processes:
        raise ProcessError(
            f"{me}: JAX_NUM_PROCESSES={launch.num_processes} here, but the run at {where} has "
            f"{n} processes: give every process the same JAX_NUM_PROCESSES"
        )
    return n


# ---------------------------------------------------------------------------------------------
# Who does what
# ---------------------------------------------------------------------------------------------


def process_count() -> int:
    """The number of processes (``jax.process_count()``; 1 without ``jax.distributed``).

    >>> process_count()
    1
    """
    return jax.process_count()


def process_index() -> int:
    """This process's index, 0..process_count()-1 (``jax.process_index()``).

    >>> process_index()
    0
    """
    return jax.process_index()


def is_writer() -> bool:
    """Whether this process writes files and prints reports: process 0 alone.

    >>> is_writer()
    True
    """
    return process_index() == 0


def owner(cell: int, processes: int | None = None) -> int:
    """The process that computes cell number ``cell``: ``cell % processes`` (default
    :func:`process_count`), as :func:`share` and :func:`map_cells` assign them.

    >>> [owner(i, 3) for i in range(7)]
    [0, 1, 2, 0, 1, 2, 0]
    """
    return cell % (process_count() if processes is None else processes)


def share(cells: Sequence[Any]) -> list[Any]:
    """This process's cells: every :func:`process_count`-th one from number
    :func:`process_index` on (``cells[process_index()::process_count()]``). Deterministic: the
    same list gives the same shares on every process, and the shares cover it exactly once.

    >>> share(['a', 'b', 'c'])       # one process: all of them
    ['a', 'b', 'c']
    """
    return list(cells)[process_index() :: process_count()]


# ---------------------------------------------------------------------------------------------
# Collectives over the coordinator's key-value store
# ---------------------------------------------------------------------------------------------


def _encode(value: Any, what: str) -> bytes:
    try:
        return json.dumps(value, separators=(",", ":")).encode()
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"{what} must be JSON-able (dicts, lists, str, int, float, bool, None; arrays as "
            f".tolist()): {e}"
        ) from None


def _decode(data: bytes) -> Any:
    return json.loads(data.decode())


def _client() -> Any:
    client = distributed_client()
    if client is None:  # pragma: no cover - process_count() > 1 implies a client
        raise ProcessError("jax.distributed is not initialized: call initialize_from_env()")
    return client


def _key(call: int, name: str) -> str:
    return f"{_PREFIX}/{call}/{name}"


def _try_get(key: str) -> bytes | None:
    try:
        return _client().key_value_try_get_bytes(key)
    except Exception:  # NOT_FOUND: not there yet
        return None


def _wait(key: str, error_key: str | None = None) -> bytes:
    """The value at ``key``, waiting as long as it takes (a dead process ends this one through
    JAX's heartbeat); a value at ``error_key`` (a cell that raised elsewhere) is raised here."""
    while True:
        try:
            return _client().blocking_key_value_get_bytes(key, 1000)
        except Exception as e:
            if "DEADLINE_EXCEEDED" not in str(e):
                raise
        if error_key is not None and (err := _try_get(error_key)) is not None:
            raise ProcessError(err.decode())


def gather(value: Any) -> list | None:
    """Every process's ``value``, in process order, on process 0; None on the others.

    Collective; ``value`` must be JSON-able and comes back JSON-decoded (also on one process:
    a tuple becomes a list), so the result is the same on any number of processes.

    >>> gather({'loss': 0.5})
    [{'loss': 0.5}]
    """
    data = _encode(value, "gather's value")
    if process_count() == 1:
        return [_decode(data)]
    call = next(_calls)
    if process_index() != 0:
        _client().key_value_set_bytes(_key(call, str(process_index())), data)
        return None
    out = [_decode(data)]
    for p in range(1, process_count()):
        out.append(_decode(_wait(_key(call, str(p)))))
        _client().key_value_delete(_key(call, str(p)))
    return out


def broadcast(value: Any) -> Any:
    """Process 0's ``value`` on every process (the others' ``value`` is ignored).

    Collective; JSON-able, returned JSON-decoded everywhere (process 0 included).

    >>> broadcast(['cell-1', 'cell-2'])
    ['cell-1', 'cell-2']
    """
    if process_count() == 1 or process_index() == 0:
        data = _encode(value, "broadcast's value")
    if process_count() == 1:
        return _decode(data)
    call = next(_calls)
    if process_index() == 0:
        _client().key_value_set_bytes(_key(call, "value"), data)
        return _decode(data)
    return _decode(_wait(_key(call, "value")))


def barrier() -> None:
    """Wait until every process has reached this call (collective).

    >>> barrier()   # one process: returns at once
    """
    if process_count() == 1:
        return
    call = next(_calls)
    # As long as it takes: a process that died ends the others through the heartbeat.
    _client().wait_at_barrier(_key(call, "barrier"), 7 * 24 * 3600 * 1000)


def map_cells(
    fn: Callable[[Any], Any],
    cells: Sequence[Any],
    *,
    on_result: Callable[[int, Any], None] | None = None,
) -> list | None:
    """``[fn(c) for c in cells]`` spread over the processes; the list on process 0, None on
    the others.

    Cell ``i`` is computed by process ``i % process_count()`` (:func:`owner`), so each cell is
    computed once, by one process, as one process computes it: the results are the same on any
    number of processes. ``fn``'s results must be JSON-able; they are returned JSON-decoded.

    ``on_result(i, result)`` runs on process 0 once per cell, as results arrive (process 0's
    own cells as it finishes them, the others' between its cells and at the end): write each
    result there and a run stopped half-way loses only the cells in flight. It is called in
    no particular order; the returned list is in cell order.

    A cell that raises on another process is raised on process 0 as :class:`ProcessError`
    naming the cell and the error. Collective: every process passes the same ``cells``.

    >>> written = []
    >>> map_cells(lambda x: x * x, [1, 2, 3], on_result=lambda i, r: written.append(i))
    [1, 4, 9]
    >>> written
    [0, 1, 2]
    """
    cells = list(cells)
    n, me = process_count(), process_index()
    results: list[Any] = [None] * len(cells)

    def deliver(i: int, data: bytes) -> None:
        results[i] = _decode(data)
        if on_result is not None:
            on_result(i, results[i])

    def compute(i: int) -> bytes:
        return _encode(fn(cells[i]), f"the result of cell {i}")

    if n == 1:
        for i in range(len(cells)):
            deliver(i, compute(i))
        return results
    call = next(_calls)
    error_key = _key(call, "error")
    if me != 0:
        for i in range(me, len(cells), n):
            try:
                data = compute(i)
            except BaseException as e:
                detail = "".join(traceback.format_exception_only(type(e), e)).strip()
                _client().key_value_set_bytes(
                    error_key, f"cell {i} failed on process {me}: {detail}".encode(),
                    allow_overwrite=True,
                )  # fmt: skip
                raise
            _client().key_value_set_bytes(_key(call, str(i)), data)
        return None
    pending = [i for i in range(len(cells)) if i % n]

    def collect(block: bool) -> None:
        for i in list(pending):
            data = _wait(_key(call, str(i)), error_key) if block else _try_get(_key(call, str(i)))
            if data is None:
                if (err := _try_get(error_key)) is not None:
                    raise ProcessError(err.decode())
                continue
            _client().key_value_delete(_key(call, str(i)))
            pending.remove(i)
            deliver(i, data)

    for i in range(0, len(cells), n):
        deliver(i, compute(i))
        collect(block=False)
    collect(block=True)
    return results


# ---------------------------------------------------------------------------------------------
# Ending
# ---------------------------------------------------------------------------------------------


def finish(status: int = 0) -> None:
    """End this process's part of the run: together on success, at once on failure.

    ``status == 0``: wait for every process (:func:`barrier`), then shut JAX's distributed
    runtime down (its shutdown barrier then passes at once). Otherwise, with several
    processes: flush the streams and end this process now with ``status`` (``os._exit``),
    so that the others stop within the heartbeat timeout instead of waiting at JAX's
    shutdown barrier (which holds a process that ended with an error for
    ``shutdown_timeout`` seconds while the others wait for it). With one process it returns
    (the caller exits as usual).

    >>> finish()     # one process: nothing to do
    """
    if not jax.distributed.is_initialized():
        return
    if status == 0:
        barrier()
        jax.distributed.shutdown()
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


@contextlib.contextmanager
def session(**options: Any) -> Iterator[int]:
    """``initialize_from_env(**options)`` for a ``with`` block that ends with :func:`finish`:
    on an exception with several processes, its traceback is printed and the process ends
    at once (status 1; 130 for Ctrl-C). Yields the number of processes.

    >>> with session(environ={}) as n:
    ...     n
    1
    """
    n = initialize_from_env(**options)
    try:
        yield n
    except BaseException as e:
        if n > 1:
            traceback.print_exc()
            finish(130 if isinstance(e, KeyboardInterrupt) else 1)
        raise
    finish(0)


def describe_failure(error: BaseException) -> str | None:
    """One line for an error that says another process of the run stopped (a collective over
    the processes failed, or the coordinator reported an error), else None.

    >>> describe_failure(ValueError('x')) is None
    True
    """
    if distributed_client() is None or not isinstance(
        error, (jax.errors.JaxRuntimeError, ProcessError)
    ):
        return None
    text = str(error)
    signs = ("Gloo", "Connection closed", "Connection reset", "coordination service", "failed on")
    if not any(s in text for s in signs):
        return None
    first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return (
        f"process {process_index()} of {process_count()}: another process of this "
        f"jax.distributed run stopped or failed ({first}); every process stops"
    )
