"""A real IMAP server for tests and the demo: Debian's dovecot, run from a config of our own.

`start_dovecot(workdir, users)` writes a dovecot.conf (base_dir, state_dir and logs under the
work dir, 127.0.0.1 on a free port, passwd-file auth, maildir under each user's home), a
self-signed certificate for IMAPS, and runs `dovecot -F -c FILE` as a child process. As root,
mail is owned by a system user (`schoolcx-mail`, created when missing) because dovecot refuses to
keep mail as root. `deliver` APPENDs messages over IMAP itself, so UIDs, UIDVALIDITY and
INTERNALDATE are the server's own, exactly as a connector will see them in production.

`deliver_world` renders a World's email interactions as RFC 5322 messages; see render_world.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import imaplib
import os
import pwd
import shutil
import ssl
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from schoolcx.sandbox.demo.world import World
from schoolcx.warehouse.embedded import free_port

DOVECOT = os.environ.get("SCHOOLCX_DOVECOT", "/usr/sbin/dovecot")
DOVEADM = os.environ.get("SCHOOLCX_DOVEADM", "/usr/bin/doveadm")
MAIL_USER = "schoolcx-mail"


class DovecotMissing(RuntimeError):
    pass


class DovecotFailed(RuntimeError):
    pass


def _require_dovecot() -> None:
    missing = [p for p in (DOVECOT, DOVEADM) if not (Path(p).is_file() and os.access(p, os.X_OK))]
    if missing:
        raise DovecotMissing(
            f"dovecot is not installed ({', '.join(missing)} not found): the IMAP tests and the "
            "demo need a real IMAP server; install it with `apt-get install dovecot-imapd` "
            "(or set SCHOOLCX_DOVECOT / SCHOOLCX_DOVEADM to its binaries)"
        )


def _mail_owner() -> tuple[int, int, str, str]:
    """(uid, gid, user, group) that owns the mail and runs dovecot's unprivileged services."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        return me.pw_uid, me.pw_gid, me.pw_name, me.pw_name
    try:
        entry = pwd.getpwnam(MAIL_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--user-group",
                "--shell",
                "/usr/sbin/nologin",
                MAIL_USER,
            ],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(MAIL_USER)
    import grp

    return entry.pw_uid, entry.pw_gid, MAIL_USER, grp.getgrgid(entry.pw_gid).gr_name


def _traversable_by_all(path: Path) -> bool:
    """dovecot's login and mail processes drop privileges, so every parent must be o+x."""
    return all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents])


def _self_signed_cert(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "7",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@dataclass
class RunningDovecot:
    host: str
    port: int
    ssl: bool
    ca_file: str | None
    root: Path
    config: Path
    users: dict[str, str]
    uid: int
    gid: int
    process: subprocess.Popen | None = field(default=None, repr=False)
    _own_root: bool = False
    mailboxes: dict[str, str] = field(default_factory=dict)  # source name -> user (deliver_world)

    def connection(self, source_name: str = "", user: str | None = None) -> dict:
        """kwargs for schoolcx.connections.connection_json (conn_type imap) for the mailbox that
        deliver_world filled for `source_name` (or `user`, else the first user)."""
        login = user or self.mailboxes.get(source_name) or next(iter(self.users))
        extra = {"ca_file": self.ca_file} if self.ca_file else {}
        return {
            "conn_type": "imap",
            "host": self.host,
            "port": self.port,
            "login": login,
            "password": self.users[login],
            "extra": extra,
        }

    def imap(self, user: str) -> imaplib.IMAP4:
        """A logged-in client (for the harness and tests)."""
        if self.ssl:
            ctx = ssl.create_default_context(cafile=self.ca_file)
            client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                self.host, self.port, ssl_context=ctx, timeout=30
            )
        else:
            client = imaplib.IMAP4(self.host, self.port, timeout=30)
        client.login(user, self.users[user])
        return client

    def doveadm(self, *args: str) -> str:
        out = subprocess.run(
            [DOVEADM, "-c", str(self.config), *args], capture_output=True, text=True
        )
        if out.returncode != 0:
            raise DovecotFailed(f"doveadm {' '.join(args)} failed: {out.stderr.strip()}")
        return out.stdout

    def kick(self, user: str, timeout: float = 10.0) -> None:
        """Drop `user`'s sessions and wait until they are gone. `doveadm kick` only signals the
        imap process: a client can still get one more answer before it exits, and a second kick
        then finds no one (exit 68)."""
        self.doveadm("kick", user)
        deadline = time.monotonic() + timeout
        while user in self.doveadm("who", user):
            if time.monotonic() > deadline:
                raise DovecotFailed(f"{user}'s session outlived doveadm kick by {timeout} s")
            time.sleep(0.01)

    def log_tail(self, lines: int = 30) -> str:
        log = self.root / "dovecot.log"
        return (
            "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""
        )

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> RunningDovecot:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _config_text(
    root: Path,
    port: int,
    use_ssl: bool,
    uid: int,
    user: str,
    group: str,
    cert: Path | None,
    key: Path | None,
) -> str:
    ssl_lines = (
        (f"ssl = required\nssl_cert = <{cert}\nssl_key = <{key}\nssl_min_protocol = TLSv1.2\n")
        if use_ssl
        else "ssl = no\ndisable_plaintext_auth = no\n"
    )
    listeners = (
        (
            f"  inet_listener imap {{\n    port = 0\n  }}\n"
            f"  inet_listener imaps {{\n    address = 127.0.0.1\n    port = {port}\n"
            f"    ssl = yes\n  }}\n"
        )
        if use_ssl
        else (
            f"  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n"
            f"  inet_listener imaps {{\n    port = 0\n  }}\n"
        )
    )
    return f"""# written by schoolcx.sandbox.emulators.imap_server: a throwaway test server
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = {uid}
last_valid_uid = 0
first_valid_gid = 0
mail_location = maildir:~/Maildir
auth_mechanisms = plain login
auth_failure_delay = 0
{ssl_lines}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
}}
service imap-login {{
  chroot =
{listeners}}}
service anvil {{
  chroot =
}}
"""


def start_dovecot(
    workdir: Path, users: dict[str, str], *, use_ssl: bool = True, timeout: float = 15.0
) -> RunningDovecot:
    """Start dovecot for `users` (login -> password); returns once it greets on its port.

    The server's files live under `workdir` when every parent of it is traversable by the mail
    user (else under a fresh /tmp directory, removed on stop). Use as a context manager or call
    `stop()`.
    """
    _require_dovecot()
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    own_root = False
    if _traversable_by_all(workdir):
        root = Path(tempfile.mkdtemp(prefix="dovecot-", dir=workdir))
    else:
        root = Path(tempfile.mkdtemp(prefix="schoolcx-dovecot-"))
        own_root = True
    root.chmod(0o755)
    uid, gid, user, group = _mail_owner()
    cert = key = None
    if use_ssl:
        cert, key = _self_signed_cert(root)
        cert.chmod(0o644)
    (root / "home").mkdir()
    os.chown(root / "home", uid, gid)
    lines = []
    for login, password in users.items():
        if ":" in login or ":" in password or "\n" in login + password:
            raise ValueError(f"user {login!r}: ':' and newlines cannot appear in a passwd-file")
        home = root / "home" / login
        home.mkdir()
        os.chown(home, uid, gid)
        lines.append(f"{login}:{password}:{uid}:{gid}::{home}::")
    (root / "passwd").write_text("\n".join(lines) + "\n")
    (root / "passwd").chmod(0o644)
    running: RunningDovecot | None = None
    for _attempt in range(3):  # a free port can be taken between probe and bind: try again
        port = free_port()
        config = root / "dovecot.conf"
        config.write_text(_config_text(root, port, use_ssl, uid, user, group, cert, key))
        proc = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        running = RunningDovecot(
            "127.0.0.1",
            port,
            use_ssl,
            str(cert) if cert else None,
            root,
            config,
            dict(users),
            uid,
            gid,
            proc,
            own_root,
        )
        if _wait_greeting(running, timeout):
            return running
        err = (
            proc.stderr.read().decode(errors="replace")
            if proc.poll() is not None and proc.stderr
            else ""
        )
        running._own_root = False
        running.stop()
        problem = err.strip() or running.log_tail()
    if own_root:
        shutil.rmtree(root, ignore_errors=True)
    raise DovecotFailed(f"dovecot did not start on 127.0.0.1: {problem}")


def _wait_greeting(running: RunningDovecot, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running.process is not None and running.process.poll() is not None:
            return False
        try:
            client = running.imap(next(iter(running.users))) if running.users else None
        except (OSError, imaplib.IMAP4.error):
            time.sleep(0.05)
            continue
        if client is not None:
            with contextlib.suppress(Exception):
                client.logout()
        return True
    return False


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def deliver(
    running: RunningDovecot,
    mailbox_user: str,
    folder: str,
    message: bytes,
    when: dt.datetime | None = None,
    client: imaplib.IMAP4 | None = None,
) -> int:
    """APPEND one message to `folder` of `mailbox_user`; returns its UID (from APPENDUID).

    INTERNALDATE is `when`, else the message's Date header (a delivery at the time it was
    written), else the server's clock.
    """
    if when is None:
        when = _date_header(message)
    own = client is None
    client = client or running.imap(mailbox_user)
    try:
        if folder.upper() != "INBOX":
            client.create(_quote(folder))  # NO when it exists: fine
        stamp = imaplib.Time2Internaldate(when) if when else None
        typ, data = client.append(_quote(folder), None, stamp, message)
        if typ != "OK":
            raise DovecotFailed(f"APPEND to {folder} failed: {data}")
        code = client.untagged_responses.pop("APPENDUID", None)
        text = (data[0] or b"").decode()
        if "APPENDUID" in text:
            return int(text.split("APPENDUID", 1)[1].split("]")[0].split()[1])
        return int(code[0].split()[1]) if code else 0
    finally:
        if own:
            client.logout()


def _date_header(message: bytes) -> dt.datetime | None:
    from email.parser import BytesHeaderParser
    from email.utils import parsedate_to_datetime

    value = BytesHeaderParser().parsebytes(message).get("Date")
    try:
        parsed = parsedate_to_datetime(str(value)) if value else None
    except (TypeError, ValueError):
        return None
    return parsed if parsed is None or parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def change_uidvalidity(running: RunningDovecot, user: str, folder: str) -> int:
    """Give `folder` a new UIDVALIDITY (what a server rebuild or a mailbox re-creation does).

    Uses `doveadm mailbox update --uid-validity`; the messages stay, but every UID is now
    'new' to a client that remembers the old UIDVALIDITY. Returns the new value.
    """
    client = running.imap(user)
    try:
        client.select(_quote(folder), readonly=True)
        old = int(client.response("UIDVALIDITY")[1][0])
    finally:
        client.logout()
    new = old + 1000
    running.doveadm("mailbox", "update", "-u", user, "--uid-validity", str(new), folder)
    return new


# ---------------------------------------------------------------------------------------------
# Rendering a World's email interactions as messages
#
# Per interaction: the requester's first message in INBOX (Message-ID <i{id}.0@{their domain}>),
# then one message per event: agent replies in Sent, requester replies in INBOX, auto-replies
# (Auto-Submitted: auto-replied) in Sent when the mailbox sent them and in INBOX when they came
# from the requester's side. Notes and status changes are not mail. To exercise the connector's
# threading fallbacks, interactions with id % 5 == 1 send replies with References but no
# In-Reply-To, and those with id % 7 == 2 send requester replies with neither header (only
# "Re: <subject>"), which only the subject fallback can thread.


@dataclass(frozen=True)
class RenderedMessage:
    folder: str
    at: dt.datetime
    message_id: str  # normalised (no <>, lower case)
    raw: bytes
    interaction_id: int
    automated: bool


def expected_thread_id(interaction) -> str:
    """The thread id the connector should give every message of `interaction`."""
    return f"i{interaction.interaction_id}.0@{_domain(interaction.requester.email)}"


def _domain(address: str) -> str:
    return address.rsplit("@", 1)[1].lower()


def _mailbox_address(world: World, source_name: str) -> str:
    import yaml

    from schoolcx.config import DeploymentConfig

    cfg = DeploymentConfig.model_validate(yaml.safe_load(world.config_yaml))
    _district, source = cfg.source(source_name)
    if source.type != "imap":
        raise ValueError(f"source {source_name!r} is a {source.type} source, not imap")
    return source.opts.mailbox_address.lower()


def _message(headers: list[tuple[str, str]], body: str) -> bytes:
    from email.message import Message
    from email.policy import SMTP

    msg = Message(policy=SMTP)
    for name, value in headers:
        msg[name] = value
    msg.set_payload(body, charset="utf-8")
    return msg.as_bytes(policy=SMTP)


def render_interaction(interaction, mailbox: str) -> list[RenderedMessage]:
    from email.utils import format_datetime

    i = interaction
    requester = i.requester.email.lower()
    root = expected_thread_id(i)
    out: list[RenderedMessage] = []
    chain = [root]

    def add(
        folder: str,
        at,
        sender: str,
        to: str,
        subject: str,
        mid: str,
        refs: bool,
        irt: bool,
        extra: list[tuple[str, str]] | None = None,
        automated: bool = False,
    ) -> None:
        headers = [
            ("From", sender),
            ("To", to),
            ("Subject", subject),
            ("Date", format_datetime(at.astimezone(dt.UTC))),
            ("Message-ID", f"<{mid}>"),
        ]
        if irt:
            headers.append(("In-Reply-To", f"<{chain[-1]}>"))
        if refs:
            headers.append(("References", " ".join(f"<{m}>" for m in chain)))
        headers += extra or []
        out.append(
            RenderedMessage(
                folder, at, mid, _message(headers, "(body)\n"), i.interaction_id, automated
            )
        )
        if not automated:
            chain.append(mid)

    add("INBOX", i.created_at, requester, mailbox, i.subject, root, False, False)
    no_irt = i.interaction_id % 5 == 1
    headerless = i.interaction_id % 7 == 2
    for e in sorted(i.events, key=lambda e: (e.at, e.event_id)):
        mid = f"i{i.interaction_id}.e{e.event_id}@"
        if e.kind == "agent_reply":
            sender = e.author.email.lower()
            add(
                "Sent",
                e.at,
                sender,
                requester,
                f"Re: {i.subject}",
                mid + _domain(sender),
                True,
                not no_irt,
            )
        elif e.kind == "requester_reply":
            add(
                "INBOX",
                e.at,
                requester,
                mailbox,
                f"Re: {i.subject}",
                mid + _domain(requester),
                not headerless,
                not (no_irt or headerless),
            )
        elif e.kind == "auto_reply":
            from_requester_side = e.author.email.lower() == requester
            sender, to = (requester, mailbox) if from_requester_side else (mailbox, requester)
            add(
                "INBOX" if from_requester_side else "Sent",
                e.at,
                sender,
                to,
                f"Automatic reply: {i.subject}",
                mid + _domain(sender),
                True,
                not no_irt,
                [("Auto-Submitted", "auto-replied"), ("X-Autoreply", "yes")],
                automated=True,
            )
    return out


def render_source(world: World, source_name: str) -> list[RenderedMessage]:
    mailbox = _mailbox_address(world, source_name)
    return [m for i in world.for_source(source_name) for m in render_interaction(i, mailbox)]


def deliver_world(
    running: RunningDovecot, world: World, source_name: str, mailbox_user: str
) -> dict[str, int]:
    """Deliver the email interactions of `source_name` into `mailbox_user`'s INBOX and Sent.

    INTERNALDATE is each message's Date, and messages are appended in date order per folder,
    so UIDs follow arrival as on a real server. Returns message counts per folder.
    """
    running.mailboxes[source_name] = mailbox_user
    messages = sorted(
        render_source(world, source_name), key=lambda m: (m.folder, m.at, m.message_id)
    )
    counts: dict[str, int] = {}
    client = running.imap(mailbox_user)
    try:
        client.create(_quote("Sent"))
        for m in messages:
            deliver(running, mailbox_user, m.folder, m.raw, m.at, client=client)
            counts[m.folder] = counts.get(m.folder, 0) + 1
    finally:
        client.logout()
    return counts
