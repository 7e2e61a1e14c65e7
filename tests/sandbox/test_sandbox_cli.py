"""`batchprov sandbox`: options, the start line, and a real process serving and stopping."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from batchprov.sandbox import Faults, SandboxConfig
from batchprov.sandbox import cli as sandbox_cli
from batchprov.sandbox.cli import sandbox_command


def test_every_option_has_help() -> None:
    """Every option of the command carries help text, and the command is named sandbox."""
    options = [p for p in sandbox_command.params if isinstance(p, click.Option)]
    assert sandbox_command.name == "sandbox" and len(options) == 19
    assert all(option.help for option in options)


def test_options_build_the_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Options become the SandboxConfig served, and the start line shows URL, token and curl."""
    served: dict[str, Any] = {}

    def fake_serve(config: SandboxConfig, *, host: str, port: int, announce: Any) -> None:
        served.update(config=config, host=host, port=port)
        announce(f"http://{host}:{port}/v3/api")

    monkeypatch.setattr(sandbox_cli, "serve_forever", fake_serve)
    args = ["--port", "9001", "--token", "t0k", "--state", str(tmp_path / "s.sqlite"),
            "--seed", "7", "--stock", "3", "--groups", "5, 6", "--rate-limit", "20",
            "--error-503", "0.1", "--drop-after-create", "0.2", "--late-seconds", "2",
            "--list-lag-ms", "50", "--latency-ms", "10", "--jitter-ms", "5",
            "--script", "503, drop_after,timeout_after", "--list-script", "drop",
            "--revoke-token-after", "4"]  # fmt: skip
    result = CliRunner().invoke(sandbox_command, args)
    assert result.exit_code == 0, result.output
    config: SandboxConfig = served["config"]
    assert (config.token, config.seed, config.stock, config.groups) == ("t0k", 7, 3, (5, 6))
    assert config.state_path == tmp_path / "s.sqlite" and served["port"] == 9001
    assert config.faults == Faults(
        latency_ms=10, jitter_ms=5, rate_limit=20, error_503=0.1, drop_after_create=0.2,
        late_seconds=2, list_lag_ms=50, script=("503", "drop_after", "timeout_after"),
        list_script=("drop",), revoke_token_after=4,
    )  # fmt: skip
    line = result.output.strip()
    assert "http://127.0.0.1:9001/v3/api" in line and "t0k" in line and "curl -H" in line
    assert "/groups/5/numbers" in line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--groups", "a,b"], "group ids"),
        (["--error-503", "0.6", "--error-500-after-create", "0.6"], "add up to more than 1"),
        (["--stock", "0"], "--stock"),
        (["--script", "503,teapot"], "unknown outcome 'teapot'"),
        (["--list-script", "500_after"], "list_script: unknown outcome '500_after'"),
        (["--revoke-token-after", "-1"], "--revoke-token-after"),
    ],
)
def test_bad_options(args: list[str], message: str) -> None:
    """Bad option values are usage errors (exit 2) that say what is wrong."""
    result = CliRunner().invoke(sandbox_command, args)
    assert result.exit_code == 2 and message in result.output


def test_serves_and_stops_on_ctrl_c() -> None:
    """A real process prints its URL, answers curl-style requests, and exits 0 on Ctrl-C."""
    command = [sys.executable, "-m", "batchprov.sandbox.cli", "--port", "0", "--token", "tk"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            url = line.split()[3]
            assert url.startswith("http://127.0.0.1:") and url.endswith("/v3/api")
            request = urllib.request.Request(
                f"{url}/numbers?pagesize=5", headers={"x-organization-token": "tk"}
            )
            with urllib.request.urlopen(request, timeout=10) as answer:
                assert json.load(answer)["paging"] == {"pageNumber": 1, "pageSize": 5, "total": 0}
        finally:
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=10) == 0
