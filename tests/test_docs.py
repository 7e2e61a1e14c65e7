"""Tests for the docs: nothing cites files outside the repository; design.md citations exist."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DESIGN = ROOT / "docs" / "design.md"
#: Where citations are looked for: the package, the tests, the README and the docs.
SCANNED = (ROOT / "batchprov", ROOT / "tests", ROOT / "README.md", ROOT / "docs")
#: This file names the patterns it forbids.
SELF = Path(__file__).resolve()

#: Documents that live outside the repository, so a reader of the code cannot open them.
OUTSIDE = re.compile(
    r"\bSPEC\b|SPEC\.md|reliability\.md|\bapi\.md|anchors\.md|aesthetics\.md"
    r"|\bnotes/|automatic-number-assignment\.txt|/work/shared"
)
#: ``docs/design.md §5.3``, ``docs/design.md §2.2, §2.3``, ``docs/design.md §6 and §7``.
DESIGN_CITATION = re.compile(r"docs/design\.md((?:(?:\s*,\s*|\s+and\s+|\s+)§\d+(?:\.\d+)*)+)")
SECTION = re.compile(r"§(\d+(?:\.\d+)*)")
#: ``§N`` citing an RFC, the only other document code may cite by section.
RFC_SECTION = re.compile(r"RFC \d+ §\d+(?:\.\d+)*")
HEADING = re.compile(r"^#{2,4} (\d+(?:\.\d+)*)\.? ", re.MULTILINE)
ANCHOR = re.compile(r'<a id="([^"]+)"></a>')
LINK_TO_DESIGN = re.compile(r"docs/design\.md#([\w.-]+)")
LOCAL_LINK = re.compile(r"\]\(#([\w.-]+)\)")


def _text_files() -> Iterator[Path]:
    for place in SCANNED:
        paths = [place] if place.is_file() else sorted(place.rglob("*"))
        for path in paths:
            if path.is_file() and "__pycache__" not in path.parts and path.resolve() != SELF:
                yield path


def _read(path: Path) -> str | None:
    """The file's text, or None for a binary file (a workbook fixture, an image)."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None


def _texts() -> Iterator[tuple[Path, str]]:
    for path in _text_files():
        text = _read(path)
        if text is not None:
            yield path, text


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def sections(design: str) -> set[str]:
    """The section numbers of the design document's headings (``1``, ``2.3`` …)."""
    return set(HEADING.findall(design))


def outside_references(text: str) -> list[tuple[int, str]]:
    """(line, what) of each reference to a document outside the repository."""
    return [(_line(text, m.start()), m.group()) for m in OUTSIDE.finditer(text)]


def cited_sections(text: str) -> list[tuple[int, str]]:
    """(line, section) of each ``docs/design.md §N`` citation in ``text``."""
    found = []
    for match in DESIGN_CITATION.finditer(text):
        for number in SECTION.findall(match.group(1)):
            found.append((_line(text, match.start()), number))
    return found


def stray_sections(text: str) -> list[tuple[int, str]]:
    """(line, citation) of each ``§N`` that cites neither docs/design.md nor an RFC."""
    covered: set[int] = set()
    for pattern in (DESIGN_CITATION, RFC_SECTION):
        for match in pattern.finditer(text):
            covered.update(range(match.start(), match.end()))
    return [
        (_line(text, m.start()), m.group())
        for m in SECTION.finditer(text)
        if m.start() not in covered
    ]


def design_self_citations(design: str) -> list[tuple[int, str]]:
    """(line, section) of each ``§N`` in the design document that is not an RFC's."""
    covered: set[int] = set()
    for match in RFC_SECTION.finditer(design):
        covered.update(range(match.start(), match.end()))
    return [
        (_line(design, m.start()), m.group(1))
        for m in SECTION.finditer(design)
        if m.start() not in covered
    ]


def test_nothing_cites_files_outside_the_repository() -> None:
    """No file of the package, the tests, the README or the docs cites the outside documents."""
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path, text in _texts()
        for line, what in outside_references(text)
    ]
    assert offenders == [], "cite docs/design.md or the README instead:\n" + "\n".join(offenders)


def test_every_design_citation_names_an_existing_section() -> None:
    """Every ``docs/design.md §N`` in code, tests, README and docs points at a real section."""
    known = sections(DESIGN.read_text(encoding="utf-8"))
    missing = [
        f"{path.relative_to(ROOT)}:{line}: §{number}"
        for path, text in _texts()
        for line, number in cited_sections(text)
        if number not in known
    ]
    assert missing == [], "no such section in docs/design.md:\n" + "\n".join(missing)


def test_every_section_sign_cites_design_or_an_rfc() -> None:
    """A ``§N`` outside docs/design.md cites docs/design.md (or an RFC), never an unnamed file."""
    stray = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path, text in _texts()
        if path != DESIGN
        for line, what in stray_sections(text)
    ]
    assert stray == [], "say which document the section is in:\n" + "\n".join(stray)


def test_design_cites_only_its_own_sections() -> None:
    """Inside docs/design.md, every ``§N`` is one of its own sections."""
    design = DESIGN.read_text(encoding="utf-8")
    known = sections(design)
    missing = [f"line {line}: §{n}" for line, n in design_self_citations(design) if n not in known]
    assert missing == []


def test_every_design_section_has_its_stable_anchor() -> None:
    """Each numbered heading is preceded by ``<a id="sN">`` so links survive a retitling."""
    design = DESIGN.read_text(encoding="utf-8")
    lines = design.splitlines()
    unanchored = []
    for index, line in enumerate(lines):
        heading = HEADING.match(line + "\n")
        if heading and (index == 0 or lines[index - 1] != f'<a id="s{heading.group(1)}"></a>'):
            unanchored.append(line)
    assert sections(design), "docs/design.md has no numbered sections"
    assert unanchored == []


def test_every_link_into_design_has_its_anchor() -> None:
    """``docs/design.md#sN`` links and the design's own ``(#sN)`` links all resolve."""
    design = DESIGN.read_text(encoding="utf-8")
    anchors = set(ANCHOR.findall(design))
    broken = [
        f"{path.relative_to(ROOT)}: #{anchor}"
        for path, text in _texts()
        for anchor in LINK_TO_DESIGN.findall(text)
        if anchor not in anchors
    ]
    broken += [f"docs/design.md: #{a}" for a in LOCAL_LINK.findall(design) if a not in anchors]
    assert broken == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see docs/design.md §4.", [(1, "4")]),
        ("(docs/design.md §2.2, §2.3)", [(1, "2.2"), (1, "2.3")]),
        ("docs/design.md §6 and §7.5", [(1, "6"), (1, "7.5")]),
        ("first line\nthe protocol (docs/design.md\n§5.3)", [(2, "5.3")]),
        ("no citation here, RFC 9110 §10.2.3", []),
    ],
)
def test_citations_are_found_in_every_spelling(text: str, expected: list[tuple[int, str]]) -> None:
    """The citation scanner finds single, listed and wrapped citations, and nothing else."""
    assert cited_sections(text) == expected


def test_stray_and_outside_references_are_caught() -> None:
    """A bare ``§3`` or a citation of an outside file is reported; RFC and design ones are not."""
    text = "rules (SPEC §3); see reliability.md and notes/x; RFC 9110 §10.2.3; docs/design.md §4"
    assert [what for _, what in stray_sections(text)] == ["§3"]
    assert [what for _, what in outside_references(text)] == ["SPEC", "reliability.md", "notes/"]
    assert sections("## 1. One\n### 1.2 Two\n#### 1.2.1 Three\n") == {"1", "1.2", "1.2.1"}


def layers(design: str) -> list[set[str]]:
    """The layers of §1.2's diagram, lowest first: each a set of top-level module names."""
    part = design.split('<a id="s1.2"></a>', 1)[1]
    block = part.split("```", 2)[1]
    return [{name.strip() for name in layer.split("/")} for layer in block.split("→")]


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, top-level batchprov module) of each batchprov import in a source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "batchprov" and len(parts) > 1:
                yield node.lineno, parts[1]


def test_imports_point_down_the_layers_of_the_design() -> None:
    """Every batchprov module sits in a layer of §1.2 and imports only from its layer or below."""
    order = layers(DESIGN.read_text(encoding="utf-8"))
    level = {name: index for index, layer in enumerate(order) for name in layer}
    package = ROOT / "batchprov"
    exempt = {"__init__", "__main__", "_version"}  # the façade, the entry point, the version
    problems = []
    for path in sorted(package.rglob("*.py")):
        own = path.relative_to(package).parts[0].removesuffix(".py")
        if own in exempt:
            continue
        if own not in level:
            problems.append(f"batchprov/{own}: not in the layers of docs/design.md §1.2")
            continue
        for line, used in _imports(path):
            if used != own and used not in exempt and level.get(used, -1) > level[own]:
                where = path.relative_to(ROOT)
                problems.append(f"{where}:{line}: {own} imports {used}, a higher layer")
            elif used not in level and used not in exempt:
                problems.append(f"{path.relative_to(ROOT)}:{line}: {used} is in no layer")
    assert problems == [], "\n".join(problems)


def test_layers_are_read_from_the_diagram() -> None:
    """The layer parser reads §1.2's diagram: names split on '/', layers on the arrows."""
    design = '<a id="s1.2"></a>\n### 1.2 x\n\n```\na / b → c\n  → d / e\n```\n'
    assert layers(design) == [{"a", "b"}, {"c"}, {"d", "e"}]


def _options(command: str) -> list[tuple[list[str], str]]:
    """(its spellings, its help) of each option of a command of the command line."""
    import click

    from batchprov.cli import cli

    found = cli.get_command(click.Context(cli), command)
    assert found is not None, command
    return [
        (list(p.opts), p.help or "")
        for p in found.params
        if isinstance(p, click.Option) and "--help" not in p.opts
    ]


@pytest.mark.parametrize("command", ["validate", "run"])
def test_every_option_of_validate_and_run_is_in_the_readme(command: str) -> None:
    """Each option of validate and run is named in the README's table, and has a --help text."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Options of validate and run", 1)[1].split("\n### ", 1)[0]
    for spellings, help_text in _options(command):
        assert help_text.strip(), spellings
        long = [s for s in spellings if s.startswith("--")]
        assert any(re.search(rf"`{re.escape(s)}[ `]", table) for s in long), spellings


@pytest.mark.parametrize("command", ["export", "release", "history", "template", "serve"])
def test_every_option_has_a_help_text(command: str) -> None:
    """No option of any command is left without a --help text."""
    for spellings, help_text in _options(command):
        assert help_text.strip(), (command, spellings)


@pytest.mark.parametrize("command", ["history", "template"])
def test_an_optional_argument_is_shown_in_brackets(command: str) -> None:
    """--help's usage line marks an argument that may be left out as [ARG], as the SPEC does."""
    import click

    from batchprov.cli import cli

    found = cli.get_command(click.Context(cli), command)
    assert found is not None
    for param in found.params:
        if isinstance(param, click.Argument) and not param.required:
            assert param.make_metavar(click.Context(found)).startswith("["), param.name
