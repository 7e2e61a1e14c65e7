"""The command line: a thin shell over `batchprov.pipeline`.

Every command parses its options, calls one library function and prints a summary. Errors are
translated in one place (`Cli.invoke`): one line on stderr and the error's exit code.

Only click is imported up front: each command imports what it needs when it runs, and the
`sandbox` and `serve` commands are loaded when invoked, so ``--help`` starts at once.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import select
import shutil
import signal
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from batchprov._version import __version__
from batchprov.config import Existing
from batchprov.errors import (
    BatchprovError,
    ConfigError,
    ConfirmationRefused,
    OutputError,
    RunAborted,
    translated,
)

if TYPE_CHECKING:
    from batchprov.config import Api, RunConfig
    from batchprov.models import Issue, RowResult
    from batchprov.order.runlog import RunRecord
    from batchprov.order.runner import Progress
    from batchprov.plan import Plan
    from batchprov.report import Report

F = TypeVar("F", bound=Callable[..., Any])
#: What to do after a run was cut short.
FINISH = "Run the same command again to finish — nothing will be bought twice."
#: Problems listed on the terminal; the rest are in the workbook.
SHOWN_PROBLEMS = 10

#: Commands defined elsewhere, loaded when invoked: name → (module, attribute, short help).
#: The short help is what the group's --help lists without importing them (a test keeps it
#: equal to the command's own).
LAZY_COMMANDS = {
    "sandbox": (
        "batchprov.sandbox.cli",
        "sandbox_command",
        "Serve a Telmetrics-compatible API simulator on real numbering-plan data.",
    ),
    "serve": (
        "batchprov.web.cli",
        "serve_command",
        "Serve a web page to upload a spreadsheet, review it and order its numbers.",
    ),
}


class Cli(click.Group):
    """The command group; turns a BatchprovError into one line on stderr and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with translated():
                return super().invoke(ctx)
        except BatchprovError as exc:
            click.secho(f"Error: {exc}", fg="red", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # a bug: still one line, and "cut short" rather than "rows"
            click.secho(f"Error: batchprov stopped unexpectedly ({_unexpected(exc)}).", err=True)
            ctx.exit(RunAborted.exit_code)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            module, attribute, _ = LAZY_COMMANDS[cmd_name]
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands and their short help (as click writes them), without loading any."""
        names = [n for n in self.list_commands(ctx) if not _hidden(self.commands.get(n))]
        if not names:
            return
        limit = formatter.width - 6 - max(map(len, names))
        rows = []
        for name in names:
            loaded = self.commands.get(name)
            if loaded is None:
                stand_in = click.Command(
                    name, help=LAZY_COMMANDS[name][2]
                )  # click's own truncation
                rows.append((name, stand_in.get_short_help_str(limit)))
            else:
                rows.append((name, loaded.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _start_reader(path: Path, *, sheet: str | None, include_hidden: bool) -> None:
    """Boot the reader server and have it parse ``path`` while this command imports pandas
    (`read.isolate.start_reader`)."""
    from batchprov.read.isolate import start_reader

    start_reader(path, sheet=sheet, include_hidden=include_hidden)


def _hidden(command: click.Command | None) -> bool:
    return command is not None and command.hidden


@click.group(cls=Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="batchprov")
def cli() -> None:
    """Order call-tracking numbers for a spreadsheet of advertisers, exactly once."""


def input_options(func: F) -> F:
    """The options shared by `validate` and `run`."""
    decorators = [
        click.argument(
            "input_path",
            metavar="INPUT",
            type=click.Path(dir_okay=False, path_type=Path),
        ),
        click.option(
            "-o",
            "--output",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Annotated output (.xlsx or .csv). Default beside the input, named for what "
            "it holds: <input>.checked.xlsx (validate), .plan.xlsx (dry run), .results.xlsx "
            "(run), with 'sandbox' in the name of a sandbox run's.",
        ),
        click.option(
            "--failed-only",
            type=click.Path(dir_okay=False, path_type=Path),
            metavar="FILE",
            help="Also write the invalid and failed rows alone to FILE (.xlsx or .csv), with "
            "the input's columns and what is wrong: fix them there and run FILE again.",
        ),
        click.option("--sheet", help="Sheet to read. Default: the first visible sheet."),
        click.option(
            "--include-hidden",
            is_flag=True,
            help="Also read rows hidden in Excel (by hand or by a filter); left out by default.",
        ),
        click.option(
            "--group-id",
            type=click.IntRange(min=1),
            help="Group for rows whose Group ID cell is blank (the column becomes optional).",
        ),
        click.option(
            "--json", "as_json", is_flag=True, help="Print the summary as one JSON object."
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


@cli.command()
@input_options
def validate(
    input_path: Path,
    output: Path | None,
    failed_only: Path | None,
    sheet: str | None,
    include_hidden: bool,
    group_id: int | None,
    as_json: bool,
) -> None:
    """Check every row of INPUT and write an annotated copy; orders nothing."""
    _start_reader(input_path, sheet=sheet, include_hidden=include_hidden)
    from batchprov.config import RunConfig
    from batchprov.pipeline import validate_file

    config = RunConfig(sheet=sheet, include_hidden=include_hidden, group_id=group_id)
    report = validate_file(input_path, output, config=config, failed_only=failed_only)
    _print_report(report, as_json=as_json)
    sys.exit(report.exit_code)


@cli.command()
@input_options
@click.option("--dry-run", is_flag=True, help="Check and show each request body; send nothing.")
@click.option("--sandbox", is_flag=True, help="Order from a built-in simulated API (no token).")
@click.option("--api-url", help="API base URL. Default: TELMETRICS_API_URL, else the public API.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Requests in flight at once.",
)
@click.option(
    "--rate",
    default="auto",
    show_default=True,
    help="Requests per second, or 'auto' to find the API's limit.",
)
@click.option(
    "--timeout",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds to wait for an answer; after that batchprov looks in the account before it "
    "would ever send the row again.",
)
@click.option(
    "--journal",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Journal file that makes runs resumable. Default: BATCHPROV_JOURNAL, else in your "
    "data directory.",
)
@click.option("--retry-failed", is_flag=True, help="Also re-attempt rows that failed before.")
@click.option(
    "--fallback",
    metavar="LIST",
    help="When no number matches a row, try these in order: drop-filter, overlay, toll-free "
    "(comma-separated). A row's own fallback column wins.",
)
@click.option(
    "--price-per-number",
    type=float,
    help="Monthly price of one number, for the plan's cost estimate.",
)
@click.option(
    "--max-numbers",
    type=int,
    help="Refuse a plan that buys more numbers than this; never buy more in the run.",
)
@click.option(
    "--max-cost",
    type=float,
    help="Refuse a plan whose monthly cost is above this (needs --price-per-number).",
)
@click.option(
    "--existing",
    type=click.Choice([e.value for e in Existing]),
    default=Existing.ADOPT.value,
    show_default=True,
    help="A row whose name already names a number in its group: adopt that number "
    "(already provisioned) or order another anyway.",
)
@click.option(
    "--online",
    is_flag=True,
    help="With --dry-run: list the groups (read-only) so the plan is exact.",
)
@click.option(
    "--update",
    is_flag=True,
    help="Change numbers already bought whose termination number or call features differ "
    "from the row (PUT); without it a difference is only a warning.",
)
@click.option("--strict", is_flag=True, help="Order nothing if any row is invalid.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def run(
    input_path: Path,
    output: Path | None,
    failed_only: Path | None,
    sheet: str | None,
    include_hidden: bool,
    group_id: int | None,
    as_json: bool,
    dry_run: bool,
    sandbox: bool,
    api_url: str | None,
    concurrency: int,
    rate: str,
    timeout: float,
    journal: Path | None,
    retry_failed: bool,
    fallback: str | None,
    price_per_number: float | None,
    max_numbers: int | None,
    max_cost: float | None,
    existing: str,
    online: bool,
    update: bool,
    strict: bool,
    yes: bool,
    quiet: bool,
) -> None:
    """Order a number for every valid row of INPUT and write the results into a copy."""
    _start_reader(input_path, sheet=sheet, include_hidden=include_hidden)
    if not sandbox and (online or not dry_run):  # an API will be asked
        from batchprov.order.client import warm_tls_context

        warm_tls_context()
    from batchprov.config import Environment, RunConfig
    from batchprov.numbering.fallback import parse_run_fallback
    from batchprov.order.runner import RunOptions
    from batchprov.pipeline import run_file

    options = RunOptions(
        concurrency=concurrency, rate=_parse_rate(rate), timeout=timeout, retry_failed=retry_failed
    )
    config = RunConfig(
        sheet=sheet,
        include_hidden=include_hidden,
        group_id=group_id,
        dry_run=dry_run,
        strict=strict,
        fallback=parse_run_fallback(fallback),
        price_per_number=price_per_number,
        max_numbers=max_numbers,
        max_cost=max_cost,
        existing=Existing(existing),
        online=online,
        journal=journal or Environment.read().journal,
        options=options,
        update=update,
    )
    stop = threading.Event()
    on_plan = _plan_printer(dry_run=dry_run, quiet=quiet, as_json=as_json)
    if not (quiet or as_json) and sys.stderr.isatty():
        click.echo(f"Reading and checking {input_path.name}…", err=True)
    target = _api(sandbox=sandbox, dry_run=dry_run, url=api_url, config=config)
    bar = _progress(quiet=quiet or as_json)
    with target as (api, config), bar as on_progress, _interrupts(stop):
        report = run_file(
            input_path,
            output,
            config=config,
            api=api,
            confirm=_confirmer(yes, shown=on_plan is not None),
            on_plan=on_plan,
            on_progress=on_progress,
            stop=stop,
            failed_only=failed_only,
        )
    _print_report(report, as_json=as_json)
    sys.exit(report.exit_code)


@contextmanager
def _api(
    *, sandbox: bool, dry_run: bool, url: str | None, config: RunConfig
) -> Iterator[tuple[Api | None, RunConfig]]:
    """The API to order from (a fresh sandbox and its journal with --sandbox) and the config.

    A dry run needs no token; it only says where it would order.
    """
    from batchprov.config import Api

    if not sandbox:
        if dry_run and not config.online:
            yield (Api(url=url, token="") if url else None), config
        else:
            yield Api.from_environment(url=url), config
        return
    from batchprov.sandbox import sandbox_session

    with sandbox_session() as session:
        yield session.api, replace(config, journal=config.journal or session.journal)


@cli.command()
@click.argument(
    "out",
    required=False,
    default="advertisers_template.xlsx",
    type=click.Path(dir_okay=False, path_type=Path),
)
@click.option("--force", is_flag=True, help="Replace OUT if it already exists.")
def template(out: Path, force: bool) -> None:
    """Write a blank input template with explanations and drop-down lists."""
    if out.exists() and not force:
        raise OutputError(
            f"{out} already exists; the template never replaces a file. Choose another name, "
            "or add --force to replace it."
        )
    from batchprov.write.template import write_template

    write_template(out)
    click.echo(f"Template written to {out}")


def journal_option(func: F) -> F:
    """``--journal PATH``, shared by the commands that read or write the journal."""
    return click.option(
        "--journal",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Journal file. Default: BATCHPROV_JOURNAL, else in your data directory.",
    )(func)


@cli.command()
@click.argument("group_ids", metavar="GROUP_ID...", nargs=-1, required=True, type=click.IntRange(1))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Workbook to write (.xlsx or .csv). Default: numbers-<groups>.xlsx here.",
)
@click.option("--api-url", help="API base URL. Default: TELMETRICS_API_URL, else the public API.")
@click.option("--sandbox", is_flag=True, help="Export from a fresh built-in simulated API.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
def export(
    group_ids: tuple[int, ...],
    output: Path | None,
    api_url: str | None,
    sandbox: bool,
    as_json: bool,
) -> None:
    """Write every number of the groups as an input workbook whose rows are all provisioned.

    Read-only. Running the workbook orders nothing; edit it and run it with --update to
    change numbers.
    """
    from batchprov.config import RunConfig
    from batchprov.lifecycle.export import export_groups

    stop = threading.Event()
    with (
        _api(sandbox=sandbox, dry_run=False, url=api_url, config=RunConfig()) as (api, _),
        _stop_on_ctrl_c(stop),
    ):
        assert api is not None
        report = export_groups(group_ids, output, api=api, stop=stop)
    _print_report(report, as_json=as_json)
    sys.exit(report.exit_code)


@cli.command()
@click.argument(
    "results", required=False, type=click.Path(dir_okay=False, path_type=Path), metavar="RESULTS"
)
@click.option("--run", "run_id", metavar="RUN_ID", help="Release what this journal run bought.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--include-foreign", is_flag=True, help="Also release numbers this journal did not buy."
)
@journal_option
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The workbook with released rows marked. Default: <results>.released.xlsx beside it.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
def release(
    results: Path | None,
    run_id: str | None,
    yes: bool,
    include_foreign: bool,
    journal: Path | None,
    output: Path | None,
    as_json: bool,
) -> None:
    """Release (DELETE) the numbers RESULTS shows as bought, after showing them and asking.

    Released numbers leave the account: calls to them stop, and they may not be bought back.
    """
    from batchprov.lifecycle.release import ReleasePlan, release_numbers

    def show(plan: ReleasePlan) -> None:
        if not as_json:
            click.echo(plan.describe(), err=True)

    def confirm(plan: ReleasePlan) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty():
            raise ConfirmationRefused(
                "Refusing to release without confirmation: no terminal to ask. "
                "Re-run with --yes to confirm."
            )
        count = len(plan.to_release)
        try:
            return _ask(f"Release these {count} number(s)?")
        except click.Abort:
            click.echo(err=True)
            raise ConfirmationRefused("Nothing was released: it was not confirmed.") from None

    stop = threading.Event()
    with _interrupts(stop):
        report = release_numbers(
            results,
            output,
            run_id=run_id,
            include_foreign=include_foreign,
            journal=journal,
            confirm=confirm,
            on_plan=show,
            stop=stop,
        )
    _print_report(report, as_json=as_json)
    sys.exit(report.exit_code)


@cli.command()
@click.argument("run_id", required=False, metavar="[RUN_ID]")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With RUN_ID: write the run's purchases as an audit workbook (.xlsx or .csv).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON.")
@journal_option
def history(run_id: str | None, output: Path | None, as_json: bool, journal: Path | None) -> None:
    """List the journal's runs: when, who, input, API, counts, numbers bought and released."""
    from batchprov.lifecycle.history import read_history, write_audit

    if output is not None and run_id is None:
        raise click.UsageError("-o writes one run's audit workbook: name the RUN_ID too.")
    runs = read_history(journal)
    if run_id is not None:
        runs = [r for r in runs if r.run_id.startswith(run_id.strip())]
        if not runs:
            raise ConfigError(f"The journal has no run {run_id!r} (batchprov history lists them).")
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in runs]))
    else:
        _print_runs(runs)
    if output is not None and run_id is not None:
        click.echo(f"Audit workbook: {write_audit(run_id, output, journal=journal)}")


def _print_runs(runs: Sequence[RunRecord]) -> None:
    if not runs:
        click.echo("No runs in this journal yet.")
    for r in runs:
        counts = ", ".join(f"{n} {s}" for s, n in r.counts.items() if n) or "no rows"
        click.echo(f"{r.run_id[:12]}  {r.kind:<7} {r.started_at} → {r.ended_at or '(no end)'}")
        click.echo(
            f"    by {r.os_user or '?'}  input {r.input_name or '?'}  API {r.api_url or '?'}"
        )
        if r.input_sha256:
            click.echo(f"    sha256 {r.input_sha256}")
        click.echo(
            f"    {counts}; bought {r.bought}, updated {r.updated}, released {r.released}"
            f"  ({r.outcome or 'not finished'})"
        )


def _parse_rate(text: str) -> float | None:
    if text.strip().lower() == "auto":
        return None
    try:
        value = float(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither a number nor 'auto'", param_hint="--rate"
        ) from None
    if value <= 0:
        raise click.BadParameter("must be above 0", param_hint="--rate")
    return value


def _plan_printer(*, dry_run: bool, quiet: bool, as_json: bool) -> Callable[[Plan], None] | None:
    """Show the plan: a dry run's main output (stdout), or on stderr before a run orders."""
    if as_json or (quiet and not dry_run):
        return None

    def show(plan: Plan) -> None:
        click.echo(plan.describe(), err=not dry_run)
        if dry_run:
            click.echo()

    return show


def _confirmer(yes: bool, *, shown: bool = False) -> Callable[[Plan], bool]:
    """Ask before buying (showing the plan unless it was shown); refuse without a terminal."""

    def confirm(plan: Plan) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty():
            raise ConfirmationRefused(
                "Refusing to order without confirmation: no terminal to ask. "
                "Re-run with --yes to confirm."
            )
        if not shown:
            click.echo(plan.describe(), err=True)
        verb = {(True, False): "Order", (False, True): "Update", (True, True): "Order and update"}
        question = verb.get((plan.to_order > 0, plan.to_update > 0), "Order")
        try:
            return _ask(f"{question} these numbers?")
        except click.Abort:
            click.echo(err=True)
            raise ConfirmationRefused("Nothing was ordered: the order was not confirmed.") from None

    return confirm


def _ask(question: str) -> bool:
    """A yes/no question on the terminal, no by default; Ctrl-C or end of input: `click.Abort`.

    Ctrl-C means no at once (nothing is in flight yet). The kernel hands a Ctrl-C to any thread
    of the process, and numpy starts threads of its own: an ``input()`` on the main thread would
    then sleep on through it. So the answer is read once ``select`` sees a line on stdin, while
    also watching the signal wake-up pipe that Python writes to from whichever thread caught it.
    """
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (tests): click asks
        return click.confirm(question, default=False, err=True)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    old_wake = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    try:
        while True:
            click.echo(f"{question} [y/N]: ", nl=False, err=True)
            answer = _answer_line(fd, wake_r).strip().lower()
            if answer in ("y", "yes"):
                return True
            if answer in ("", "n", "no"):
                return False
            click.echo("Please answer y or n.", err=True)
    except KeyboardInterrupt:
        raise click.Abort() from None
    finally:
        signal.set_wakeup_fd(old_wake)
        signal.signal(signal.SIGINT, previous)
        os.close(wake_r)
        os.close(wake_w)


def _answer_line(fd: int, wake: int) -> str:
    """The next line typed on ``fd``; a signal caught meanwhile runs its handler here."""
    while True:
        ready, _, _ = select.select([fd, wake], [], [])
        if wake in ready:
            os.read(wake, 512)  # returning to Python runs the handler: Ctrl-C raises here
            continue
        line = sys.stdin.readline()
        if not line:  # end of input (Ctrl-D)
            raise click.Abort()
        return line


@contextmanager
def _stop_on_ctrl_c(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C sets ``stop`` for a read-only command, whose waits watch it (a Ctrl-C caught by
    another thread would not wake a main thread asleep on the network)."""
    previous = signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def _interrupts(stop: threading.Event) -> Iterator[None]:
    """First Ctrl-C: finish what is in flight and write the output. Second: quit at once."""

    def handle(signum: int, frame: object) -> None:
        if stop.is_set():
            click.echo(f"\nQuit at once, without writing the output. {FINISH}", err=True)
            os._exit(3)  # the journal makes the next run safe
            return
        stop.set()
        click.echo(
            "\nStopping: finishing the requests in flight, then writing the output "
            f"(Ctrl-C again to quit at once).\n{FINISH}",
            err=True,
        )

    previous = signal.signal(signal.SIGINT, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def _progress(*, quiet: bool) -> Iterator[Callable[[Progress], None] | None]:
    """A tqdm bar on a terminal; nothing when quiet or when stderr is not a terminal."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    bar: tqdm[Any] | None = None

    def update(p: Progress) -> None:
        nonlocal bar
        if p.planning:  # rows the journal settles are not this run's work: no bar, no rate yet
            return
        if bar is None:
            # initial=: rows done before this run (a resumed one) count, but not in its rate.
            bar = tqdm(
                total=p.total, initial=p.resumed, unit="row", desc="Ordering", dynamic_ncols=True
            )
        bar.n = p.done
        counts = {"provisioned": p.provisioned, "failed": p.failed, "retries": p.retries}
        bar.set_postfix(counts, refresh=False)
        bar.refresh()

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()


def _print_report(report: Report, *, as_json: bool) -> None:
    """The final summary on stdout: counts, the first problems, where the output is."""
    summary = _summary(report)
    if as_json:
        summary["results"] = [_result_dict(r) for r in report.results]
        summary["issues"] = [_issue_dict(i) for i in report.issues]
        click.echo(json.dumps(summary, ensure_ascii=False))
        return
    info = report.info
    target = "SANDBOX (simulated; nothing was bought)" if info.sandbox else info.api_url
    click.echo(f"batchprov {info.mode}: {len(report.results)} row(s) in {info.input_name}")
    if target and info.mode != "validate":
        click.echo(f"  API: {target}")
    for status, count in summary["counts"].items():
        click.echo(f"  {status:<20} {count:>7}")
    warnings = summary["warnings"]
    if warnings:
        click.echo(f"  {'warnings':<20} {warnings:>7}")
    _print_problems(report)
    _print_maybe_twice(report)
    if info.stopped_reason:
        click.secho(
            f"Stopped early: {info.stopped_reason}. {_after_stop(info.stopped_reason)}", fg="yellow"
        )
    if report.output_path:
        click.echo(f"Output: {report.output_path}")
    if report.failed_only_path:
        count = len(problem_rows(report))
        noun = "row" if count == 1 else "rows"
        click.echo(f"Rows to fix ({count} {noun}): {report.failed_only_path}")


def _print_maybe_twice(report: Report) -> None:
    """Rows whose number may be a second purchase: said on the terminal, not only in a cell."""
    from batchprov.order.rows import MAYBE_TWICE

    rows = [
        r.excel_row for r in report.results if any(w.startswith(MAYBE_TWICE) for w in r.warnings)
    ]
    if rows:
        click.secho(
            f"{len(rows)} row(s) may have been bought twice {_row_list(rows)}: their Warnings say "
            "which numbers to compare in the account.",
            fg="yellow",
        )


def _after_stop(reason: str) -> str:
    """What to do after a stopped run: for a rejected token, fix it first."""
    if reason.startswith("token rejected"):
        return (
            "Check the token (TELMETRICS_TOKEN), then run the same command again: nothing "
            "will be bought twice."
        )
    return FINISH


def problem_rows(report: Report) -> list[RowResult]:
    """The results of the rows needing attention (invalid and failed)."""
    from batchprov.write.attention import attention_rows

    return attention_rows(report.results)


def _print_problems(report: Report) -> None:
    """The first problems (row, column, message), rows sharing one problem on one entry, then
    how many more there are."""
    lines = problem_lines(report)
    if not lines:
        return
    click.echo()
    noun = "problem" if len(lines) == 1 else "problems"
    click.secho(f"{len(lines)} {noun} to fix:", bold=True)
    shown = _problem_groups(lines)[:SHOWN_PROBLEMS]
    width = max(len(column) for column, _, _ in shown)
    columns = max(60, shutil.get_terminal_size((100, 24)).columns - 1)
    for column, message, rows in shown:
        head = f"  row {rows[0]:<5} " if len(rows) == 1 else f"  {len(rows)} rows".ljust(12)
        head = f"{head}{column:<{width}}  "
        # Wrapped under the message, never through a word at the terminal's edge.
        indent = " " * len(head)
        click.echo(textwrap.fill(message, columns, initial_indent=head, subsequent_indent=indent))
        if len(rows) > 1:
            click.echo(textwrap.fill(_row_list(rows), columns, initial_indent=indent))
    rest = len(lines) - sum(len(rows) for _, _, rows in shown)
    if rest > 0:
        where = "Needs attention and Errors sheets" if _is_workbook(report) else "output"
        click.echo(f"  … and {rest} more in the {where}.")
    click.echo()


def _problem_groups(lines: list[tuple[int, str, str]]) -> list[tuple[str, str, list[int]]]:
    """(column, message, rows) per distinct problem, in the order of their first rows."""
    groups: dict[tuple[str, str], list[int]] = {}
    for row, column, message in lines:
        groups.setdefault((column, message), []).append(row)
    return [(column, message, rows) for (column, message), rows in groups.items()]


#: A problem shared by more rows than this names the first ones and counts the rest.
_LISTED_ROWS = 12


def _row_list(rows: list[int]) -> str:
    listed = ", ".join(str(r) for r in rows[:_LISTED_ROWS])
    more = len(rows) - _LISTED_ROWS
    return f"(rows {listed}{f' and {more} more' if more > 0 else ''})"


def problem_lines(report: Report) -> list[tuple[int, str, str]]:
    """(Excel row, column, message) of every error, and of every failed row, by row."""
    lines = [(i.row, i.column, i.message) for i in report.issues if i.severity == "error"]
    described = {row for row, _, _ in lines}
    for result in report.results:
        if result.failed and result.excel_row not in described:
            # A row's errors are lines in the workbook; here they run on, so they are marked.
            lines.append((result.excel_row, "", "; ".join((result.error or "failed").splitlines())))
    return sorted(lines, key=lambda line: line[0])


def _is_workbook(report: Report) -> bool:
    return report.output_path is not None and report.output_path.suffix.lower() != ".csv"


def _result_dict(result: RowResult) -> dict[str, Any]:
    """One row's result as JSON: the API's own values (match type), every field."""
    return {
        "row": result.excel_row,
        "status": result.status.value,
        "tracking_number": result.tracking_number,
        "number_id": result.number_id,
        "route_id": result.route_id,
        "assigned_name": result.assigned_name,
        "match_type": result.match_type,
        "error": result.error,
        "change_failed": result.change_failed,
        "warnings": list(result.warnings),
        "attempts": result.attempts,
        "provisioned_at": result.provisioned_at,
        "expected_area": result.expected_area,
        "request_body": json.loads(result.request_body) if result.request_body else None,
    }


def _issue_dict(issue: Issue) -> dict[str, Any]:
    return {
        "row": issue.row,
        "column": issue.column,
        "value": issue.value,
        "message": issue.message,
        "severity": issue.severity.value,
    }


def _summary(report: Report) -> dict[str, Any]:
    info = report.info
    return {
        "mode": info.mode,
        "input": info.input_name,
        "output": str(report.output_path) if report.output_path else None,
        "failed_only": str(report.failed_only_path) if report.failed_only_path else None,
        "api_url": None if info.sandbox else info.api_url,
        "sandbox": info.sandbox,
        "rows": len(report.results),
        "counts": report.counts(),
        "errors": sum(1 for i in report.issues if i.severity == "error"),
        "warnings": sum(1 for i in report.issues if i.severity == "warning"),
        "stopped_reason": info.stopped_reason,
        "exit_code": report.exit_code,
        "plan": info.plan.as_dict() if info.plan else None,
    }


def _unexpected(exc: Exception) -> str:
    """A bug's one-line description: its type and first line, scrubbed of the token."""
    from batchprov.config import Environment

    text = str(exc).splitlines()[0] if str(exc) else ""
    token = Environment.read().token
    if token:
        text = text.replace(token, "[hidden]")
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


def main() -> None:
    """Console-script entry point."""
    try:
        cli(prog_name="batchprov")
    except SystemExit as done:
        leave(done.code)
    leave(0)


def leave(code: object) -> None:
    """End the process with ``code`` once its work is flushed, skipping interpreter teardown.

    Tearing down pandas, pandera and openpyxl costs 0.5-0.9 s of the user's wait after the last
    line is printed. Everything that matters is already on disk (the journal commits each
    change, outputs are renamed into place) and what is left is run here: the atexit handlers
    (the reader server's end, logging's flush) and the standard streams. A thread still working
    (not a daemon) gets the ordinary exit, which waits for it.
    """
    status = _exit_status(code)
    first = threading.main_thread()
    if any(t is not first and not t.daemon for t in threading.enumerate()):
        sys.exit(status)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):  # a closed pipe has nobody left to tell
            stream.flush()
    os._exit(status)


def _exit_status(code: object) -> int:
    """What `sys.exit(code)` would exit with (a message is printed and gives 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    with suppress(Exception):
        print(code, file=sys.stderr)
    return 1
