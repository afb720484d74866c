"""gloo's socket thread found among new threads and lowered in priority
(jaxlearn/train/socket_thread.py), on threads of this process that wait as it does."""

from __future__ import annotations

import os
import select
import sys
import threading
import time

import pytest

from jaxlearn.train import socket_thread

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _start(wait) -> tuple[threading.Thread, threading.Event]:
    """A started thread that runs ``wait(stop)`` (blocking until ``stop`` is set), and ``stop``.
    It carries the process's name, as gloo's does (Python 3.14 and later name their threads
    after ``Thread.name``)."""
    stop = threading.Event()
    with open(f"/proc/self/task/{os.getpid()}/comm") as f:
        name = f.read().strip()
    thread = threading.Thread(target=wait, args=(stop,), daemon=True, name=name)
    thread.start()
    return thread, stop


def _in_epoll(stop: threading.Event) -> None:
    ep = select.epoll()  # gloo's Loop::run: epoll_wait with a timeout, over and over
    while not stop.is_set():
        ep.poll(0.05)
    ep.close()


def _on_event(stop: threading.Event) -> None:
    stop.wait()


def _wchan(tid: int) -> str:
    with open(f"/proc/self/task/{tid}/wchan") as f:
        return f.read()


def test_the_new_unnamed_thread_in_epoll_wait_is_found_and_lowered():
    base = os.getpriority(os.PRIO_PROCESS, 0)  # the niceness pytest runs at (0 unless niced)
    before = socket_thread.thread_ids()
    assert threading.get_native_id() in before
    polling, stop_polling = _start(_in_epoll)
    waiting, stop_waiting = _start(_on_event)  # new too, but asleep on a futex
    try:
        deadline = time.monotonic() + 5
        while "epoll" not in _wchan(polling.native_id) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert socket_thread.socket_threads(before) == [polling.native_id]
        # threads that were there before are never picked, whatever they wait on
        assert socket_thread.socket_threads(socket_thread.thread_ids()) == []
        socket_thread.lower([polling.native_id], 19)  # from base: lowering is always allowed
        assert os.getpriority(os.PRIO_PROCESS, polling.native_id) == 19
        assert os.getpriority(os.PRIO_PROCESS, waiting.native_id) == base
        assert os.getpriority(os.PRIO_PROCESS, 0) == base  # the calling thread is untouched
    finally:
        stop_polling.set(), stop_waiting.set()
        polling.join(), waiting.join()


def test_lowering_a_thread_that_ended_is_no_error():
    thread, stop = _start(_on_event)
    tid = thread.native_id
    stop.set(), thread.join()
    socket_thread.lower([tid], 19)
