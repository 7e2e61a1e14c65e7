"""The yes/no questions before buying or releasing: answers, and Ctrl-C from any thread.

Each case runs the question in a child process on a pseudo-terminal, as a user meets it.
"""

from __future__ import annotations

import contextlib
import os
import pty
import select
import subprocess
import sys
import time

import pytest

_ASK = """
import signal, sys, threading, time
from batchprov.cli import _ask

def interrupt_from_another_thread() -> None:
    time.sleep(0.5)
    # The kernel may hand Ctrl-C to any thread; this one takes it, not the main thread.
    signal.pthread_kill(threading.get_ident(), signal.SIGINT)

if sys.argv[1] == "thread":
    threading.Thread(target=interrupt_from_another_thread, daemon=True).start()
try:
    print("ANSWER", _ask("Order these numbers?"), flush=True)
except BaseException as exc:
    print("RAISED", type(exc).__name__, flush=True)
"""


def ask_on_a_terminal(mode: str, typed: bytes = b"", *, timeout: float = 20.0) -> str:
    """Run the question on a pty, type ``typed`` once it is asked, return what was shown."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", _ASK, mode], stdin=slave, stdout=slave, stderr=slave
    )
    os.close(slave)
    seen, deadline = b"", time.monotonic() + timeout
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    break
                if typed and b"[y/N]" in seen:
                    os.write(master, typed)
                    typed = b""
        # The pty closes as the child exits, a moment before it can be waited for.
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(deadline - time.monotonic(), 1.0))
        finished = proc.poll() is not None
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        os.close(master)
    assert finished, f"the question did not end: {seen!r}"
    return seen.decode(errors="replace")


def test_ctrl_c_caught_by_another_thread_still_ends_the_question() -> None:
    """A Ctrl-C the kernel gives to another thread ends the question at once (as no)."""
    shown = ask_on_a_terminal("thread")
    assert "Order these numbers? [y/N]" in shown
    assert "RAISED Abort" in shown


@pytest.mark.parametrize(
    ("typed", "answer"),
    [(b"y\n", "True"), (b"YES\n", "True"), (b"n\n", "False"), (b"\n", "False")],
)
def test_typed_answers(typed: bytes, answer: str) -> None:
    """y/yes is yes; n/no or just Enter is no."""
    assert f"ANSWER {answer}" in ask_on_a_terminal("plain", typed)


def test_another_answer_asks_again() -> None:
    """An answer that is neither yes nor no asks again."""
    shown = ask_on_a_terminal("plain", b"maybe\ny\n")
    assert "Please answer y or n." in shown and "ANSWER True" in shown


def test_end_of_input_is_no() -> None:
    """Ctrl-D at the question ends it without a yes."""
    assert "RAISED Abort" in ask_on_a_terminal("plain", b"\x04")
