"""`batchprov sandbox`: serve the simulated API on loopback until Ctrl-C."""

from __future__ import annotations

from pathlib import Path

import click

from batchprov.sandbox.config import DEFAULT_GROUPS, SandboxConfig
from batchprov.sandbox.faults import Faults
from batchprov.sandbox.server import serve_forever

_SHARE = click.FloatRange(0, 1)
_MS = click.FloatRange(min=0)


def _groups(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        groups = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a comma-separated list of group ids") from None
    if not groups or any(group < 1 for group in groups):
        raise click.BadParameter("give at least one positive group id")
    return groups


def _outcomes(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, ...]:
    """A comma-separated list of outcome names (checked by `Faults`)."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


@click.command("sandbox")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Keep it loopback: the sandbox has no real security.",
)
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free port).",
)
@click.option(
    "--token",
    default="sandbox",
    show_default=True,
    help="The x-organization-token the sandbox accepts.",
)
@click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file keeping inventory and numbers across restarts "
    "(default: in memory, gone when the sandbox stops).",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=int,
    help="Seed for number picks, ids and faults: the same seed gives the same run.",
)
@click.option(
    "--stock",
    type=click.IntRange(1, 10_000),
    help="Numbers per exchange (default: all 10,000), to make inventory run out.",
)
@click.option(
    "--groups",
    default=",".join(map(str, DEFAULT_GROUPS)),
    show_default=True,
    callback=_groups,
    help="Comma-separated ids of the groups that exist.",
)
@click.option("--latency-ms", default=0.0, type=_MS, help="Delay added to every request (ms).")
@click.option(
    "--jitter-ms", default=0.0, type=_MS, help="Extra random delay per request, up to this many ms."
)
@click.option(
    "--rate-limit",
    type=click.FloatRange(min=0, min_open=True),
    help="Requests per second allowed; more get 429 with Retry-After.",
)
@click.option(
    "--error-503",
    default=0.0,
    type=_SHARE,
    help="Share of creates answered 503 (Retry-After: 1); nothing is created.",
)
@click.option(
    "--error-500-after-create",
    default=0.0,
    type=_SHARE,
    help="Share of creates that create the number, then answer 500.",
)
@click.option(
    "--drop-after-create",
    default=0.0,
    type=_SHARE,
    help="Share of creates that create the number, then close the connection without answering.",
)
@click.option(
    "--late-after-create",
    default=0.0,
    type=_SHARE,
    help="Share of creates that create the number, then answer only after --late-seconds.",
)
@click.option(
    "--late-seconds",
    default=5.0,
    show_default=True,
    type=_MS,
    help="How late a late answer is (seconds).",
)
@click.option(
    "--list-lag-ms",
    default=0.0,
    type=_MS,
    help="New numbers show in listings only this many ms after creation.",
)
@click.option(
    "--script",
    default="",
    callback=_outcomes,
    help="Comma-separated outcomes of the next creates, in order, before the shares apply: "
    "ok, 503, 429, 500_after, drop_after, late, timeout_after, timeout_before, connect, "
    "garbled, 400, 401, 404.",
)
@click.option(
    "--list-script",
    default="",
    callback=_outcomes,
    help="Comma-separated outcomes of the next listing pages: "
    "ok, 429, 500, 503, drop, timeout, connect, garbled.",
)
@click.option(
    "--revoke-token-after",
    type=click.IntRange(min=0),
    help="The token works for this many creates; after that every request gets 401.",
)
def sandbox_command(
    host: str,
    port: int,
    token: str,
    state_path: Path | None,
    seed: int,
    stock: int | None,
    groups: tuple[int, ...],
    latency_ms: float,
    jitter_ms: float,
    rate_limit: float | None,
    error_503: float,
    error_500_after_create: float,
    drop_after_create: float,
    late_after_create: float,
    late_seconds: float,
    list_lag_ms: float,
    script: tuple[str, ...],
    list_script: tuple[str, ...],
    revoke_token_after: int | None,
) -> None:
    """Serve a Telmetrics-compatible API simulator on real numbering-plan data."""
    try:
        faults = Faults(
            latency_ms=latency_ms,
            jitter_ms=jitter_ms,
            rate_limit=rate_limit,
            error_503=error_503,
            error_500_after_create=error_500_after_create,
            drop_after_create=drop_after_create,
            late_after_create=late_after_create,
            late_seconds=late_seconds,
            list_lag_ms=list_lag_ms,
            script=script,
            list_script=list_script,
            revoke_token_after=revoke_token_after,
        )
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    config = SandboxConfig(
        token=token, groups=groups, seed=seed, stock=stock, state_path=state_path, faults=faults
    )

    def announce(url: str) -> None:
        example = f"curl -H 'x-organization-token: {token}' {url}/groups/{groups[0]}/numbers"
        click.echo(f"Sandbox API at {url} (token: {token}); try: {example}")

    try:
        serve_forever(config, host=host, port=port, announce=announce)
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error}") from None


if __name__ == "__main__":
    sandbox_command()
