"""The `serve` command: run the web application with uvicorn."""

from __future__ import annotations

import os
from pathlib import Path

import click
from platformdirs import user_data_path

from batchprov.web.security import allowed_hosts
from batchprov.web.views import public_url

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port to listen on.",
)
@click.option("--sandbox", is_flag=True, help="Every job orders from a built-in simulator.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where uploads, results, job records and the journal are kept.",
)
@click.option("--api-url", envvar="TELMETRICS_API_URL", show_envvar=True, help="API base URL.")
@click.option(
    "--auth",
    envvar="BATCHPROV_WEB_AUTH",
    show_envvar=True,
    metavar="USER:PASSWORD",
    help="Require this login for every page.",
)
@click.option(
    "--max-upload-mb",
    type=click.FloatRange(min=0.1),
    default=20.0,
    show_default=True,
    help="Largest file that can be uploaded.",
)
@click.option(
    "--allow-host",
    "allow_host",
    multiple=True,
    metavar="NAME[:PORT]",
    help="Also answer requests for this host name (repeatable). By default only the address "
    "listened on, and its localhost/127.0.0.1 forms, are answered.",
)
def serve_command(
    host: str,
    port: int,
    sandbox: bool,
    data_dir: Path | None,
    api_url: str | None,
    auth: str | None,
    max_upload_mb: float,
    allow_host: tuple[str, ...],
) -> None:
    """Serve a web page to upload a spreadsheet, review it and order its numbers."""
    import uvicorn

    from batchprov.web.app import create_app

    if auth is not None and ":" not in auth:
        raise click.BadParameter("expected USER:PASSWORD", param_hint="--auth")
    folder = data_dir or user_data_path("batchprov") / "web"
    app = create_app(
        data_dir=folder,
        sandbox=sandbox,
        api_url=api_url,
        auth=auth,
        max_upload=int(max_upload_mb * 2**20),
        hosts=allowed_hosts(host, port, allow_host),
    )
    _explain(host, port, folder, sandbox=sandbox, api_url=api_url, auth=auth)
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)


def _explain(
    host: str, port: int, folder: Path, *, sandbox: bool, api_url: str | None, auth: str | None
) -> None:
    """Tell whoever starts the server what it will do (never the token itself)."""
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"batchprov web on http://{shown}:{port}/  (data in {folder})", err=True)
    if sandbox:
        click.echo("Mode: SANDBOX - every order goes to a built-in simulator.", err=True)
    elif api_url and os.environ.get("TELMETRICS_TOKEN"):
        click.echo(f"Mode: LIVE - orders go to {public_url(api_url)}.", err=True)
    else:
        click.echo(
            "Mode: check only - set --api-url and TELMETRICS_TOKEN (or use --sandbox) to order.",
            err=True,
        )
    if host not in LOOPBACK and not auth:
        click.secho(
            "Warning: listening beyond this computer without --auth; anyone who can reach "
            "it can order numbers.",
            fg="yellow",
            err=True,
        )
