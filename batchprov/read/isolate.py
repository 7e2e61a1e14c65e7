"""Parsing untrusted files in a child process under memory, CPU and wall-clock limits.

A parser bug or a hostile file may make the parser allocate hundreds of GB (Rust then aborts the
whole process), spin for minutes or crash. So no input is parsed in batchprov's own process: a
small *reader server* (started once, on first use, with only the parser's modules imported)
forks one child per file. The child sets ``RLIMIT_AS`` and ``RLIMIT_CPU`` on itself, parses,
and leaves its answer in a temporary file; the server waits for it (killing it at the
wall-clock timeout), then sends the answer and how the child ended back through its stdout.
Whatever happens to the child becomes one `UnreadableFileError` line. Forking a warm server
costs a few milliseconds, where starting a fresh interpreter per file would cost half a second.

The server imports ``batchprov.read.*`` without the package's ``__init__`` (which pulls in
pandas and the whole pipeline): the child needs none of it. Where ``os.fork`` does not exist
(Windows), files are parsed in-process, behind the same structure checks.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from batchprov import errors
from batchprov.errors import UnreadableFileError
from batchprov.read.grid import Parts
from batchprov.read.head import read_head
from batchprov.read.limits import ENV_NAMES, ReadLimits

__all__ = ["Outcome", "read_parts", "reader_cpu_seconds", "start_reader"]

_HEADER = struct.Struct(">Q")
_SEPARATOR = "\x00"
_BOOT = (
    "import sys, types\n"
    "package = types.ModuleType('batchprov')\n"
    "package.__path__ = [sys.argv[1]]\n"
    "sys.modules['batchprov'] = package\n"
    "from batchprov.read.isolate import serve\n"
    "serve()\n"
)
#: Extra seconds the parent waits beyond the child's own timeout before giving up on the server.
_GRACE = 15.0
_ENV_OF = {field: name for name, field in ENV_NAMES.items()}


@dataclass(frozen=True, slots=True)
class Outcome:
    """A parsed file and what the child spent on it."""

    parts: Parts
    cpu_seconds: float = 0.0
    peak_mb: float = 0.0


@dataclass(frozen=True, slots=True)
class _Job:
    path: str
    head: bytes
    sheet: str | None
    include_hidden: bool
    limits: ReadLimits
    #: The file's size, mtime and inode as the job was made: a job sent ahead is the same
    #: job only while the file is unchanged (its first bytes alone do not say so).
    stamp: tuple[int, int, int] | None = None


def _job(
    path: Path, head: bytes, sheet: str | None, include_hidden: bool, limits: ReadLimits
) -> _Job:
    try:
        st = os.stat(path)
    except OSError:  # gone: the child's open says why
        return _Job(str(path), head, sheet, include_hidden, limits)
    stamp = (st.st_size, st.st_mtime_ns, st.st_ino)
    return _Job(str(path), head, sheet, include_hidden, limits, stamp)


@dataclass(frozen=True, slots=True)
class _Ending:
    """How the child ended, as the server saw it."""

    answer: tuple[Any, ...] | None
    exit_code: int | None
    signal: int | None
    timed_out: bool
    cpu_seconds: float
    peak_mb: float
    stderr: str


def read_parts(
    path: Path, head: bytes, *, sheet: str | None, include_hidden: bool, limits: ReadLimits
) -> Outcome:
    """Parse ``path`` in a reader child; its parts, or the reason as an input error.

    Raises:
        InputError: the file cannot be read (every failure of the child is one of these).
    """
    job = _job(path, head, sheet, include_hidden, limits)
    if not hasattr(os, "fork"):
        return Outcome(_parse(job))
    ending = _SERVER.run(job, path.name)
    _SERVER.cpu_seconds += ending.cpu_seconds
    return _outcome(ending, path.name, limits)


def start_reader(
    path: Path | None = None, *, sheet: str | None = None, include_hidden: bool = False
) -> None:
    """Start this process's reader server now rather than at the first read (no-op if it runs).

    For a command about to read a file that still has to import pandas and the rest: the
    server boots and loads its parser on the other core meanwhile, and with ``path`` parses
    that file at once. The `read_parts` of the same job then takes that answer; any other
    read discards it. A file that fails the first checks (`head.read_head`) is not sent: its
    read reports why.
    """
    if not hasattr(os, "fork"):
        return
    job = None
    if path is not None:
        with contextlib.suppress(errors.BatchprovError):
            limits = ReadLimits.from_env()
            job = _job(path, read_head(path, limits), sheet, include_hidden, limits)
    with _SERVER.lock:
        _SERVER.running()
        if job is not None and _SERVER.ahead is None:
            _SERVER.send_ahead(job)


def reader_cpu_seconds() -> float:
    """The CPU time all reader children of this process have used (benchmarks add it to
    this process's own, since the parsing happens there)."""
    return _SERVER.cpu_seconds


def _parse(job: _Job) -> Parts:
    from batchprov.read.parse import parse_file  # the child's modules, imported where used

    return parse_file(
        Path(job.path),
        job.head,
        sheet=job.sheet,
        include_hidden=job.include_hidden,
        limits=job.limits,
    )


# --- the parent's side -------------------------------------------------------------------------


class _Server:
    """The reader server of this process: started on first use, restarted after a failure."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.process: subprocess.Popen[bytes] | None = None
        self.owner = os.getpid()
        self.cpu_seconds = 0.0
        self.ahead: _Job | None = None  # sent by `start_reader`, its answer not yet read

    def send_ahead(self, job: _Job) -> None:
        """Send ``job`` now; its answer is read by the `run` of the same job."""
        process = self.running()
        assert process.stdin is not None
        try:
            _write_frame(process.stdin, pickle.dumps(job))
        except OSError:
            self._stop()
        else:
            self.ahead = job

    def run(self, job: _Job, name: str) -> _Ending:
        with self.lock:
            ahead, self.ahead = self.ahead, None
            if ahead is not None and ahead != job:
                self._stop()  # a parse of something else: kill it rather than wait for it
            sent_to = self.process
            process = self.running()
            if process is not sent_to:
                ahead = None  # the server that had it is gone: ask the new one
            assert process.stdin is not None and process.stdout is not None
            try:
                if ahead is None:
                    _write_frame(process.stdin, pickle.dumps(job))
                wait = job.limits.timeout_seconds + _GRACE
                ending = pickle.loads(_read_frame(process.stdout, time.monotonic() + wait))
            except BaseException as error:
                self._stop()
                if isinstance(error, Exception):
                    raise UnreadableFileError(
                        f"{name} could not be read: the reader stopped responding."
                    ) from None
                raise
            if not isinstance(ending, _Ending):  # pragma: no cover - the server sends only these
                self._stop()
                raise UnreadableFileError(f"{name} could not be read: the reader failed.")
            return ending

    def running(self) -> subprocess.Popen[bytes]:
        if self.owner != os.getpid():  # a forked copy of this process: the server is not ours
            self.process, self.owner, self.ahead = None, os.getpid(), None
        if self.process is not None and self.process.poll() is None:
            return self.process
        if self.process is not None:
            self._stop()  # it died: close its pipes
        package = str(Path(__file__).resolve().parent.parent)
        self.process = subprocess.Popen(
            [sys.executable, "-c", _BOOT, package],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C at a terminal is the parent's to handle
            close_fds=True,
        )
        return self.process

    def _stop(self) -> None:
        process, self.process, self.ahead = self.process, None, None
        if process is None:
            return
        with contextlib.suppress(OSError):
            os.killpg(process.pid, signal.SIGKILL)  # the server and any child it forked
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait(timeout=5)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def close(self) -> None:
        """Let the server end (it stops when its stdin closes)."""
        process = self.process
        if process is None or self.owner != os.getpid():
            return
        if self.ahead is not None:  # a parse nobody will read
            self._stop()
            return
        with contextlib.suppress(OSError):
            if process.stdin is not None:
                process.stdin.close()
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self._stop()
        else:
            if process.stdout is not None:
                process.stdout.close()
            self.process = None


_SERVER = _Server()
atexit.register(_SERVER.close)


def _write_frame(stream: IO[bytes], payload: bytes) -> None:
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def _read_frame(stream: IO[bytes], deadline: float) -> bytes:
    """One length-prefixed frame, or TimeoutError/EOFError."""
    fd = stream.fileno()
    header = _read_exactly(fd, _HEADER.size, deadline)
    return _read_exactly(fd, _HEADER.unpack(header)[0], deadline)


def _read_exactly(fd: int, size: int, deadline: float) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError("the reader server did not answer in time")
        chunk = os.read(fd, min(size - len(chunks), 1 << 20))
        if not chunk:
            raise EOFError("the reader server ended")
        chunks += chunk
    return bytes(chunks)


def _outcome(ending: _Ending, name: str, limits: ReadLimits) -> Outcome:
    answer = ending.answer
    if answer is not None and answer[0] == "ok":
        parts = replace(answer[1], cells=_unpack(answer[2], len(answer[1].excel_rows)))
        return Outcome(parts, ending.cpu_seconds, ending.peak_mb)
    if answer is not None and answer[0] == "error":
        raise _input_error(answer[1], answer[2])
    raise UnreadableFileError(f"{name} could not be read: {_why(ending, answer, limits)}.")


def _input_error(kind: str, message: str) -> errors.InputError:
    error = getattr(errors, kind, None)
    if isinstance(error, type) and issubclass(error, errors.InputError):
        return error(message)
    return UnreadableFileError(message)


def _why(ending: _Ending, answer: tuple[Any, ...] | None, limits: ReadLimits) -> str:
    memory = (
        f"reading it needs more than the {limits.memory_mb:,} MB of memory batchprov allows "
        f"({_ENV_OF['memory_mb']}); the file is damaged or holds far more than it shows"
    )
    if answer is not None and answer[0] == "memory":
        return memory
    if ending.timed_out:
        return (
            f"reading it took longer than {limits.timeout_seconds:,} s "
            f"({_ENV_OF['timeout_seconds']})"
        )
    if ending.signal == getattr(signal, "SIGXCPU", None) or (
        ending.signal == signal.SIGKILL and ending.cpu_seconds >= limits.cpu_seconds
    ):
        return (
            f"reading it needs more than {limits.cpu_seconds:,} s of processor time "
            f"({_ENV_OF['cpu_seconds']}); the file is damaged or far larger than it looks"
        )
    if answer is not None and answer[0] == "failed":
        return f"the reader failed on it ({answer[1]})"
    told = ending.stderr.casefold()
    if ending.signal == signal.SIGABRT and ("memory" in told or "alloc" in told or not told):
        return memory
    if ending.signal is not None:
        shown = signal.Signals(ending.signal).name if ending.signal in _SIGNALS else ending.signal
        return f"the file is damaged (the reader crashed on it: {shown})"
    return f"the reader ended without an answer (exit code {ending.exit_code})"


_SIGNALS = {member.value for member in signal.Signals}


def _pack(cells: Sequence[Sequence[str]]) -> list[bytes | Sequence[str]]:
    """Each column as one NUL-separated UTF-8 string: far cheaper to pickle than its cells."""
    packed: list[bytes | Sequence[str]] = []
    for column in cells:
        joined = _SEPARATOR.join(column)
        if joined.count(_SEPARATOR) == max(len(column) - 1, 0):
            packed.append(joined.encode("utf-8", "surrogatepass"))
        else:  # a cell holds a NUL itself: send the cells as they are
            packed.append(column)
    return packed


def _unpack(packed: Sequence[bytes | Sequence[str]], rows: int) -> tuple[Sequence[str], ...]:
    columns: list[Sequence[str]] = []
    for column in packed:
        if not rows:
            columns.append(())
        elif isinstance(column, bytes):
            columns.append(column.decode("utf-8", "surrogatepass").split(_SEPARATOR))
        else:
            columns.append(column)
    return tuple(columns)


# --- the server's side ---------------------------------------------------------------------------


def serve() -> None:
    """The reader server's loop: one job per frame on stdin, one ending per frame on stdout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ["RUST_BACKTRACE"] = "0"  # a panic's first line is all the parent reads
    import batchprov.read.parse  # noqa: F401  - loaded once here, so each child starts warm

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    # Anything else written to fd 1 would corrupt the frames: point it at stderr.
    channel = os.fdopen(os.dup(stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), stdout.fileno())
    while True:
        try:
            job = pickle.loads(_read_blocking(stdin))
        except EOFError:
            os._exit(0)  # nothing to tear down; the parent waits for this exit
        _write_frame(channel, pickle.dumps(_run(job)))


def _read_blocking(stream: IO[bytes]) -> bytes:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError
    payload = stream.read(_HEADER.unpack(header)[0])
    if len(payload) < _HEADER.unpack(header)[0]:
        raise EOFError
    return payload


def _run(job: _Job) -> _Ending:
    """Fork a child for ``job``, wait for it (at most the timeout) and collect its answer."""
    with tempfile.TemporaryFile() as answer, tempfile.TemporaryFile() as stderr:
        done_read, done_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            os.close(done_read)
            _child(job, answer.fileno(), stderr.fileno())
        os.close(done_write)
        try:
            timed_out = not select.select([done_read], [], [], job.limits.timeout_seconds)[0]
        finally:
            os.close(done_read)
        if timed_out:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        _, status, usage = os.wait4(pid, 0)
        answer.seek(0)
        data = answer.read()
        stderr.seek(0)
        told = stderr.read(8192).decode("utf-8", "replace")
    return _Ending(
        answer=_loaded(data),
        exit_code=os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        signal=os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        timed_out=timed_out,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_mb=usage.ru_maxrss / 1024,  # KiB on Linux
        stderr=" ".join(told.split())[:2000],
    )


def _loaded(data: bytes) -> tuple[Any, ...] | None:
    if not data:
        return None
    try:
        answer = pickle.loads(data)
    except Exception:  # a child killed while writing leaves half an answer
        return None
    return answer if isinstance(answer, tuple) else None


def _child(job: _Job, answer_fd: int, stderr_fd: int) -> None:
    """Parse under the limits and write the answer; never returns."""
    code = 0
    try:
        os.dup2(stderr_fd, 1)
        os.dup2(stderr_fd, 2)
        _limit(job.limits)
        answer = _answer(job)
        try:
            data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        except MemoryError:
            data = pickle.dumps(("memory",))
        view = memoryview(data)
        while view:
            view = view[os.write(answer_fd, view) :]
    except BaseException:
        code = 70
    finally:
        os._exit(code)


def _answer(job: _Job) -> tuple[Any, ...]:
    try:
        parts = _parse(job)
        return ("ok", replace(parts, cells=()), _pack(parts.cells))
    except errors.BatchprovError as error:
        return ("error", type(error).__name__, str(error))
    except MemoryError:
        return ("memory",)
    except Exception as error:
        detail = " ".join(f"{type(error).__name__}: {error}".split())[:200]
        return ("failed", detail)


def _limit(limits: ReadLimits) -> None:
    """Cap this process's address space (beyond what it has now), CPU time and core dumps."""
    import resource

    now = _address_space()
    memory = now + limits.memory_mb * (1 << 20)
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 2))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _address_space() -> int:
    """This process's virtual memory size in bytes (0 where /proc is not there)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
