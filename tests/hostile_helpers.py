"""Helpers of the hostile-input tests (tests/test_hostile_*.py)."""

import os
import re
import threading

from nnlite.training import checkpoint as ckpt

#: nnlite.training.checkpoint.CheckpointError (looked up so that this file also runs against older commits).
CheckpointError = getattr(ckpt, "CheckpointError", type("CheckpointErrorMissing", (Exception,), {}))


def shapes_in(msg_shape_a, msg_shape_b):
    """A regex that matches a message naming both shapes (in either order)."""
    a, b = re.escape(str(tuple(msg_shape_a))), re.escape(str(tuple(msg_shape_b)))
    return rf"({a}.*{b}|{b}.*{a})"


def unblock_fifo_after(path, seconds=5.0):
    """From ``seconds`` on, keep opening the FIFO ``path`` for writing and closing it, so that whatever blocks on
    opening it for reading (once or again and again) sees end-of-file instead of hanging the test run. Returns the
    event that stops it."""
    stop = threading.Event()

    def release():
        stop.wait(seconds)
        while not stop.is_set():
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))  # succeeds only while a reader waits
            except OSError:
                pass
            stop.wait(0.05)

    threading.Thread(target=release, daemon=True).start()
    return stop
