"""Named crash hooks, so tests can kill the process at the worst moments (like ``kill -9``).

``BATCHPROV_CRASH_AT=after_intent_commit:3`` makes the third call of
``crashpoint("after_intent_commit")`` end the process with ``os._exit(137)``: no ``finally``
blocks, no atexit handlers, no flushing, exactly as a power cut or ``kill -9`` would leave
things. The variable is read once, at import; without it every hook is a single comparison.

Points: ``after_intent_commit``, ``after_send_before_commit`` (answer received, result not yet
committed), ``after_result_commit``, ``mid_reconcile``.
"""

from __future__ import annotations

import os

ENV = "BATCHPROV_CRASH_AT"
EXIT_CODE = 137


def _parse(spec: str | None) -> tuple[str, int] | None:
    """``"name:N"`` → ``("name", N)``; ``"name"`` means the first hit; blank means none."""
    if not spec or not spec.strip():
        return None
    name, _, count = spec.strip().partition(":")
    return name.strip(), int(count) if count.strip() else 1


_target = _parse(os.environ.get(ENV))
_hits = 0


def crashpoint(name: str) -> None:
    """End the process at once if this is the hit of ``name`` that the environment names."""
    global _hits
    if _target is None or _target[0] != name:
        return
    _hits += 1
    if _hits >= _target[1]:
        os._exit(EXIT_CODE)
