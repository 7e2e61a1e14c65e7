"""The public API: what `import batchprov` offers, pinned so a change is a decision."""

from __future__ import annotations

import inspect
import subprocess
import sys

import batchprov

PUBLIC = [
    "Api",
    "BatchprovError",
    "CapExceeded",
    "Checked",
    "CheckedRow",
    "ConfigError",
    "ConfirmationRefused",
    "Environment",
    "Existing",
    "InputError",
    "Issue",
    "Plan",
    "Progress",
    "Report",
    "RowResult",
    "RunAborted",
    "RunConfig",
    "RunInfo",
    "RunOptions",
    "Severity",
    "Status",
    "__version__",
    "check_file",
    "plan_run",
    "run_file",
    "validate_file",
]


def test_all_is_pinned() -> None:
    """`batchprov.__all__` is exactly the documented public names."""
    assert PUBLIC == batchprov.__all__


def test_every_public_name_resolves() -> None:
    """Each name in __all__ is importable from the package root."""
    for name in batchprov.__all__:
        assert getattr(batchprov, name) is not None, name


def test_public_functions_take_and_return_public_types() -> None:
    """The types in the public functions' signatures are themselves public."""
    public = set(batchprov.__all__)
    for name in ("check_file", "validate_file", "plan_run", "run_file"):
        hints = inspect.get_annotations(getattr(batchprov, name), eval_str=False)
        for annotation in hints.values():
            for word in str(annotation).replace("|", " ").replace(",", " ").split():
                word = word.strip("[]")
                if (
                    word[:1].isupper()
                    and word not in ("None", "Path", "ConfirmFn", "PlanFn", "ProgressFn")
                    and "." not in word
                ):
                    assert word in public, f"{name} uses {word}, which is not public"  # fmt: skip


def test_run_file_takes_a_config_and_an_api() -> None:
    """run_file(input, output, *, config, api, callbacks): no pile of loose options."""
    params = inspect.signature(batchprov.run_file).parameters
    assert list(params) == [
        "path", "output", "config", "api", "confirm", "on_plan", "on_progress", "stop",
        "failed_only",
    ]  # fmt: skip
    assert all(p.kind is p.KEYWORD_ONLY for p in list(params.values())[2:])


def test_importing_the_package_is_light() -> None:
    """`import batchprov` loads neither pandas nor httpx until a name is used."""
    code = "import sys, batchprov; print('pandas' in sys.modules, 'httpx' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
