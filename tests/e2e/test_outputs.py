"""Output files: named for what they hold, and never replacing a file of bought numbers."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from batchprov.cli import cli
from batchprov.errors import OutputError
from batchprov.pipeline import default_output, validate_file
from batchprov.write.overwrite import bought_numbers

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def advertisers(tmp_path: Path) -> Path:
    return Path(shutil.copy(EXAMPLES / "advertisers.xlsx", tmp_path / "advertisers.xlsx"))


def bought_workbook(path: Path, numbers: list[str], *, status: str = "provisioned") -> Path:
    """A results workbook whose rows show bought numbers."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Advertiser", "Group ID", "Forward To", "Status", "Tracking Number"])
    for i, number in enumerate(numbers):
        ws.append([f"Shop {i}", "11623282", "4165551234", status, number])
    wb.save(path)
    return path


@pytest.mark.parametrize(
    ("mode", "sandbox", "name"),
    [
        ("validate", False, "advertisers.checked.xlsx"),
        ("dry-run", False, "advertisers.plan.xlsx"),
        ("run", False, "advertisers.results.xlsx"),
        ("run", True, "advertisers.sandbox.results.xlsx"),
        ("dry-run", True, "advertisers.sandbox.plan.xlsx"),
    ],
)
def test_default_output_is_named_for_what_it_holds(mode: str, sandbox: bool, name: str) -> None:
    """Each command's default output says in its name what it holds, sandbox included."""
    assert default_output(Path("in/advertisers.xlsx"), mode=mode, sandbox=sandbox) == Path(
        "in", name
    )


def test_an_output_read_again_keeps_the_original_stem() -> None:
    """Checking a results file gives <stem>.checked.xlsx; a run of it never names itself."""
    assert default_output(Path("a.results.xlsx"), mode="validate").name == "a.checked.xlsx"
    assert default_output(Path("a.checked.xlsx"), mode="run").name == "a.results.xlsx"
    assert default_output(Path("a.results.xlsx"), mode="run").name == "a.results.results.xlsx"


def test_validate_and_dry_run_leave_the_results_file_alone(advertisers: Path) -> None:
    """validate and --dry-run write their own files, never <stem>.results.xlsx."""
    results = bought_workbook(advertisers.with_name("advertisers.results.xlsx"), ["4165550100"])
    before = results.read_bytes()
    assert invoke("validate", str(advertisers))[0] == 0
    assert invoke("run", str(advertisers), "--dry-run")[0] == 0
    assert advertisers.with_name("advertisers.checked.xlsx").exists()
    assert advertisers.with_name("advertisers.plan.xlsx").exists()
    assert results.read_bytes() == before


def test_validate_refuses_to_replace_bought_numbers(advertisers: Path) -> None:
    """-o naming a file of bought numbers the check would drop: exit 2, file named, untouched."""
    target = bought_workbook(advertisers.with_name("kept.xlsx"), ["4165550100", "4165550101"])
    before = target.read_bytes()
    code, _, err = invoke("validate", str(advertisers), "-o", str(target))
    assert code == 2
    assert str(target) in err and "2 bought numbers" in err
    assert target.read_bytes() == before


def test_dry_run_and_sandbox_run_refuse_too(advertisers: Path) -> None:
    """A dry run and a sandbox run (whose journal knows nothing) refuse the same way."""
    target = bought_workbook(advertisers.with_name("kept.xlsx"), ["4165550100"])
    for extra in (["--dry-run"], ["--sandbox"]):
        code, _, err = invoke("run", str(advertisers), "-o", str(target), *extra)
        assert code == 2, extra
        assert "1 bought number" in err
    assert bought_numbers(target) == {"4165550100"}


def test_a_sandbox_output_may_be_replaced(advertisers: Path) -> None:
    """Numbers a sandbox run shows were never bought: its file may be written over."""
    target = bought_workbook(
        advertisers.with_name("s.xlsx"), ["4165550100"], status="provisioned (sandbox)"
    )
    assert bought_numbers(target) == frozenset()
    assert invoke("validate", str(advertisers), "-o", str(target))[0] == 0


def test_a_file_carrying_its_numbers_may_be_replaced(tmp_path: Path) -> None:
    """Checking a results file into another copy carries its numbers, so it may replace it."""
    source = bought_workbook(tmp_path / "a.results.xlsx", ["4165550100"])
    target = shutil.copy(source, tmp_path / "copy.xlsx")
    report = validate_file(source, target)
    assert report.output_path == target
    assert bought_numbers(Path(target)) == {"4165550100"}


def test_refusal_comes_before_anything_is_written(tmp_path: Path, advertisers: Path) -> None:
    """The library raises OutputError (exit 2) and writes nothing."""
    target = bought_workbook(tmp_path / "kept.xlsx", ["4165550100"])
    with pytest.raises(OutputError, match="kept.xlsx"):
        validate_file(advertisers, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["advertisers.xlsx", "kept.xlsx"]


def test_a_sandbox_run_rerun_overwrites_its_own_output(advertisers: Path) -> None:
    """`make demo` twice: the second sandbox run replaces the first one's file."""
    for _ in range(2):
        code, out, _ = invoke("run", str(advertisers), "--sandbox")
        assert code == 0, out
    assert "advertisers.sandbox.results.xlsx" in out


def test_template_never_overwrites_without_force(tmp_path: Path) -> None:
    """`template` refuses an existing file (exit 2, untouched) unless --force."""
    out = tmp_path / "advertisers.xlsx"
    out.write_bytes(b"26 rows of work")
    code, _, err = invoke("template", str(out))
    assert code == 2
    assert "--force" in err and str(out) in err
    assert out.read_bytes() == b"26 rows of work"
    assert invoke("template", str(out), "--force")[0] == 0
    assert openpyxl.load_workbook(out).worksheets[0].max_column > 5
