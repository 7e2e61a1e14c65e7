"""Start-up stays light: the package root and the command line load heavy modules on use."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

import batchprov
from batchprov import cli

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pandas", "openpyxl", "pandera", "httpx", "phonenumbers", "starlette", "uvicorn")

_LOADED_BY = """
import json, sys
{code}
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def heavy_modules_after(code: str) -> list[str]:
    """The heavy modules a fresh interpreter has loaded after running ``code``."""
    done = subprocess.run(
        [sys.executable, "-c", _LOADED_BY.format(code=code, heavy=HEAVY)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_import_batchprov_loads_nothing_heavy() -> None:
    """`import batchprov` (and its version) imports none of pandas, openpyxl, httpx ..."""
    assert [] == heavy_modules_after("import batchprov; batchprov.__version__")


def test_help_loads_nothing_heavy() -> None:
    """`batchprov --help` and `batchprov run --help` import no heavy module."""
    code = (
        "from click.testing import CliRunner\n"
        "from batchprov.cli import cli\n"
        "for args in (['--help'], ['run', '--help'], ['validate', '--help']):\n"
        "    assert CliRunner().invoke(cli, args).exit_code == 0\n"
    )
    assert [] == heavy_modules_after(code)


def test_numbering_plan_loads_without_the_rest() -> None:
    """Looking a number up needs neither pandas nor phonenumbers (the table is cached)."""
    code = "from batchprov.numbering import nanp\nnanp.place_of('9056372046')\n"
    heavy_modules_after(code)  # builds the cache, if this session has none yet
    assert [] == heavy_modules_after(code)


@pytest.mark.parametrize("name", batchprov.__all__)
def test_every_public_name_resolves(name: str) -> None:
    """Every name of `batchprov.__all__` is there on first use, from its own module."""
    value = getattr(batchprov, name)
    if name != "__version__":
        assert getattr(importlib.import_module(value.__module__), name) is value


def test_unknown_names_are_attribute_errors() -> None:
    """A name the package lacks raises AttributeError, as for any module."""
    with pytest.raises(AttributeError, match="no_such_name"):
        batchprov.no_such_name  # noqa: B018
    assert set(batchprov.__all__) <= set(dir(batchprov))


@pytest.mark.parametrize("name", sorted(cli.LAZY_COMMANDS))
def test_lazy_commands_list_their_own_help(name: str) -> None:
    """The group lists a lazy command with the command's own short help, and loads it."""
    module, attribute, short = cli.LAZY_COMMANDS[name]
    command = getattr(importlib.import_module(module), attribute)
    assert isinstance(command, click.Command)
    assert command.help is not None
    assert command.help.strip().splitlines()[0] == short
    ctx = click.Context(cli.cli)
    assert command is cli.cli.get_command(ctx, name)


def test_validation_does_not_import_hypothesis() -> None:
    """Checking a sheet leaves hypothesis (a test dependency pandera would load) unimported."""
    code = (
        "from batchprov.pipeline import check_file\n"
        "check_file('examples/advertisers.xlsx')\n"
        "import sys\n"
        "assert 'hypothesis' not in sys.modules\n"
        "import hypothesis  # still importable afterwards\n"
    )
    heavy_modules_after(code)


def test_validation_loads_no_ordering_code(tmp_path: Path) -> None:
    """`validate` imports neither httpx, sqlite3, filelock nor the ordering modules."""
    ordering = ("httpx", "sqlite3", "filelock", "batchprov.order.journal", "batchprov.survey")
    code = (
        "import json, sys\n"
        "from batchprov.pipeline import validate_file\n"
        f"validate_file('examples/advertisers.xlsx', {str(tmp_path / 'out.xlsx')!r})\n"
        f"print(json.dumps(sorted(m for m in {ordering!r} if m in sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert [] == json.loads(done.stdout.strip().splitlines()[-1])


def test_a_run_imports_the_workbook_writer_while_it_orders(tmp_path: Path) -> None:
    """A run sends its first orders before openpyxl is imported; it is loaded meanwhile."""
    out = tmp_path / "out.xlsx"
    code = (
        "import json, sys\n"
        "import batchprov.order.runner as runner\n"
        "from batchprov.config import RunConfig\n"
        "from batchprov.pipeline import run_file\n"
        "from batchprov.sandbox.server import sandbox_session\n"
        "seen = {}\n"
        "real = runner.order_rows\n"
        "def spy(*args, **kwargs):\n"
        "    seen['before'] = 'openpyxl' in sys.modules\n"
        "    return real(*args, **kwargs)\n"
        "runner.order_rows = spy\n"
        "import batchprov.order.client as client\n"
        "create = client.ApiClient.create_number\n"
        "async def first(*args, **kwargs):\n"
        "    seen.setdefault('at_first_send', 'openpyxl' in sys.modules)\n"
        "    return await create(*args, **kwargs)\n"
        "client.ApiClient.create_number = first\n"
        "with sandbox_session() as session:\n"
        f"    report = run_file('examples/advertisers.xlsx', {str(out)!r},\n"
        "        config=RunConfig(journal=session.journal), api=session.api)\n"
        "seen['ordered'] = sum(1 for r in report.results if r.tracking_number)\n"
        "print(json.dumps(seen))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"before": False, "at_first_send": False, "ordered": 26} == seen
    assert out.stat().st_size > 0
