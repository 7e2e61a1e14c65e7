"""The web server's configuration and the objects its pages share (kept on `app.state.web`)."""

from __future__ import annotations

import threading
from pathlib import Path

from batchprov.config import DEFAULT_API_URL, Api, Environment
from batchprov.sandbox import SandboxConfig
from batchprov.web.checks import AccountChecks
from batchprov.web.jobs import JobStore
from batchprov.web.runner import JobRunner


class Settings:
    """Where the server keeps its files, where it orders from, and its job store and runner."""

    def __init__(
        self,
        *,
        data_dir: Path,
        sandbox: bool,
        api_url: str | None,
        max_upload: int,
        sandbox_config: SandboxConfig | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.sandbox = sandbox
        self.api_url = api_url
        self.max_upload = max_upload
        self.sandbox_config = sandbox_config
        self.env = Environment.read()
        self.uploads = data_dir / "uploads"
        self.results = data_dir / "results"
        for folder in (self.uploads, self.results, data_dir / "sandbox-journals"):
            folder.mkdir(parents=True, exist_ok=True)
        self.store = JobStore(data_dir / "jobs.sqlite")
        self.runner = JobRunner(self.store, self.results, sandbox_config)
        self.checks = AccountChecks(sandbox_config)  # the confirm pages' account checks
        self.fixing = threading.Lock()  # one fix at a time: each rewrites a stored upload

    def journal_for(self, job_id: str) -> Path:
        """The default journal, shared with the command line, for every real-API job (never
        buy twice across jobs or tools).

        A sandbox forgets its numbers when it stops, so each sandbox job keeps its own.
        """
        if self.sandbox:
            return self.data_dir / "sandbox-journals" / f"{job_id}.sqlite"
        return self.env.default_journal()

    def journals(self) -> list[Path]:
        """The journals whose runs the jobs page lists: the shared one, or each sandbox job's."""
        if not self.sandbox:
            return [self.env.default_journal()]
        return sorted(self.data_dir.glob("sandbox-journals/*[0-9a-f].sqlite"))

    def planning_api(self) -> Api:
        """Where the review's plan says the orders go (nothing is sent while reviewing)."""
        url = self.api_url or DEFAULT_API_URL
        return Api(url=url, token="", sandbox=self.sandbox)

    def ordering_blocked(self) -> str | None:
        """Why this server cannot order from a real API, or None when it can."""
        if self.sandbox:
            return None
        if not self.api_url:
            return (
                "Ordering is switched off on this server: it was started without an API address. "
                "Ask whoever runs it to restart it with --api-url (or TELMETRICS_API_URL), "
                "or with --sandbox to try things out."
            )
        if not self.env.token:
            return (
                "Ordering is switched off on this server: it has no API token. Ask whoever runs "
                "it to set TELMETRICS_TOKEN and restart it."
            )
        return None

    def mode(self) -> str:
        """The banner on every page: `sandbox`, `live` or `off` (checking only)."""
        if self.sandbox:
            return "sandbox"
        return "off" if self.ordering_blocked() else "live"
