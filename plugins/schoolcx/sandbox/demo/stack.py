"""Everything a generated world needs to be extracted for real: vendor emulators on local
sockets, a dovecot IMAP server holding its mail, CSV files in the drop folders, and the Airflow
connections (AIRFLOW_CONN_*) pointing at all of them. Used by `schoolcx demo` and the end-to-end
test, so both exercise the same connectors a deployment points at the real vendors."""

from __future__ import annotations

import datetime as dt
import logging
from contextlib import ExitStack
from pathlib import Path

import yaml

from schoolcx.config import DeploymentConfig
from schoolcx.connections import connection_json
from schoolcx.paths import project_path
from schoolcx.sandbox.demo.world import World, as_seen_at

log = logging.getLogger(__name__)


class DemoStack:
    def __init__(
        self,
        world: World,
        workdir: Path,
        served_at: dt.datetime | None = None,
        freshdesk_rate_limit: int | None = None,
    ):
        # The vendors are read by the night after as_of, at its interval end (08:00 UTC): serve
        # the world as it stood then, so tickets answered later exist, still unanswered.
        self.served_at = served_at or dt.datetime.combine(
            world.as_of + dt.timedelta(days=1), dt.time(8), tzinfo=dt.UTC
        )
        self.world = as_seen_at(world, self.served_at)
        self.workdir = Path(workdir)
        # Calls a minute the Freshdesk emulator allows (None: its default, 5,000). The connector
        # paces itself by the X-RateLimit headers either way; a larger budget only means it
        # never has to (`schoolcx demo`, whose first night reads every conversation).
        self.freshdesk_rate_limit = freshdesk_rate_limit
        self.cfg = DeploymentConfig.model_validate(yaml.safe_load(world.config_yaml))
        self.env: dict[str, str] = {}
        self.counts: dict[str, int] = {}
        self._stack = ExitStack()

    def _by_type(self, kind: str) -> list[str]:
        return [s.name for _, s in self.cfg.sources() if s.type == kind]

    def _connect(self, running, names: list[str]) -> None:
        for name in names:
            _, source = self.cfg.source(name)
            self.env[f"AIRFLOW_CONN_{source.conn_id.upper()}"] = connection_json(
                **running.connection(name)
            )

    def __enter__(self) -> DemoStack:
        from schoolcx.sandbox.emulators import freshdesk, qualtrics, surveymonkey, zendesk

        try:
            for module, kind in (
                (zendesk, "zendesk"),
                (freshdesk, "freshdesk"),
                (qualtrics, "qualtrics"),
                (surveymonkey, "surveymonkey"),
            ):
                names = self._by_type(kind)
                if names:
                    # the world is fixed while served: helpdesk emulators may render it once
                    opts = (
                        {"frozen": True, "now": self.served_at}
                        if kind in ("zendesk", "freshdesk")
                        else {}
                    )
                    if kind == "freshdesk" and self.freshdesk_rate_limit:
                        opts["rate_limit_total"] = self.freshdesk_rate_limit
                    running = self._stack.enter_context(module.serve(self.world, names, **opts))
                    self._connect(running, names)
                    self.counts[kind] = len(names)
            self._start_mail()
            self._drop_files()
        except BaseException:
            self._stack.close()
            raise
        return self

    def _start_mail(self) -> None:
        from schoolcx.sandbox.emulators.imap_server import deliver_world, start_dovecot

        names = self._by_type("imap")
        if not names:
            return
        users = {f"mailbox{i}": f"demo-password-{i}" for i, _ in enumerate(names)}
        use_ssl = any(self.cfg.source(n)[1].opts.ssl for n in names)
        running = self._stack.enter_context(
            start_dovecot(self.workdir / "dovecot", users, use_ssl=use_ssl)
        )
        delivered = 0
        for user, name in zip(users, names, strict=True):
            delivered += sum(deliver_world(running, self.world, name, user).values())
        self._connect(running, names)
        self.counts["imap"] = len(names)
        self.counts["imap_messages"] = delivered

    def _drop_files(self) -> None:
        from schoolcx.sandbox.demo.generator import write_file_drop

        for name in self._by_type("file_drop"):
            folder = project_path(self.cfg.source(name)[1].opts.path)
            files = write_file_drop(self.world, name, folder)
            self.counts["file_drop_files"] = self.counts.get("file_drop_files", 0) + len(files)

    def __exit__(self, *exc) -> None:
        self._stack.close()
