"""Gloo's socket thread, run at low priority so that it cannot take a core from the compute.

With several processes on CPU, JAX's collectives go through gloo over TCP, and each process
has one gloo thread that services the sockets (``gloo::transport::tcp::Loop::run``, an
``epoll_wait`` loop). When the other process's part of an all-reduce arrives before this
process has posted its own receive (it is still computing its gradient), the socket stays
readable and the thread returns from ``epoll_wait`` at once, again and again: it busy-waits,
on one of the cores the computation needs. A lower priority leaves the thread all the time
that no computation wants: on a 2-core machine, 2 processes then step about as fast as 1
(the measurements and how the cause was found: ``docs/scaling.md``, "Multi-process
overhead").

The thread is found without a name of its own (gloo does not name it, so it carries the
process's name) asleep in ``epoll_wait``, among the threads that JAX's CPU backend started:
:func:`thread_ids` before the backend starts, then :func:`socket_threads` picks it among the
new ones. Linux only (``/proc``); elsewhere nothing is found and nothing changes.
"""

from __future__ import annotations

import os

__all__ = ["lower", "socket_threads", "thread_ids"]

_TASKS = "/proc/self/task"


def thread_ids() -> frozenset[int]:
    """The ids of this process's threads (empty where ``/proc`` is missing).

    >>> os.getpid() in thread_ids() or not os.path.isdir(_TASKS)
    True
    """
    try:
        return frozenset(int(t) for t in os.listdir(_TASKS))
    except OSError:
        return frozenset()


def _read(tid: int, name: str) -> str:
    try:
        with open(f"{_TASKS}/{tid}/{name}") as f:
            return f.read().strip()
    except OSError:  # the thread ended, or no /proc
        return ""


def socket_threads(before: frozenset[int]) -> list[int]:
    """The threads started since ``before`` (:func:`thread_ids` then) that have no name of
    their own and wait in ``epoll_wait``: after JAX's CPU backend started with gloo
    collectives, gloo's socket thread.

    >>> socket_threads(thread_ids())  # nothing started since
    []
    """
    main = _read(os.getpid(), "comm")
    return sorted(
        t for t in thread_ids() - before
        if _read(t, "comm") == main and "epoll" in _read(t, "wchan")
    )  # fmt: skip


def lower(threads: list[int], nice: int) -> None:
    """Give each of ``threads`` the niceness ``nice`` (0 normal, 19 lowest; Linux applies it to
    the one thread, and any process may lower its own threads' priority).

    >>> lower([], 19)  # no thread: nothing to do
    """
    for t in threads:
        try:
            os.setpriority(os.PRIO_PROCESS, t, nice)
        except (OSError, AttributeError):  # the thread ended, or no setpriority (Windows)
            pass
