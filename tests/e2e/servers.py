"""Run the real production stack as separate OS processes, on loopback only.

Used by the multi-process tests (tests/e2e/test_multiprocess.py) and the benchmark
(tests/bench/run.py):

- ``throwaway_database()``: a SQLite file in a temp folder, or (for a ``postgres...`` URL) a
  dedicated database ``<name>_mp_<random>`` that is dropped again afterwards.
- ``server_env()``: a clean environment for ``manage.py`` and gunicorn (a developer's ``.env``
  is ignored), pointing at a database and a fake sipgate.
- ``prepare_database()`` / ``create_users()``: ``manage.py migrate`` (once per database),
  ``collectstatic`` (once per process), and users with the production password hasher.
- ``GunicornServer`` / ``gunicorn_server()``: ``gunicorn -c gunicorn.conf.py`` on one port,
  started, awaited, stopped (SIGTERM, then SIGKILL of its own process group on timeout).
- ``BrowserClient``: a browser-like client over ``requests.Session`` whose every step can
  go to a different server; cookies ignore the port, so one session spans all servers.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

import requests

from tests.e2e.fake_sipgate import DEFAULT_TOKEN, DEFAULT_TOKEN_ID

BASE_DIR = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
HOST = "127.0.0.1"

TEST_SECRET_KEY = "multiprocess-test-secret-key-not-for-production-5f0c9a7e21d4b6"
PRODUCTION_SETTINGS = "twofa_site.settings"
SIPGATE_BACKEND = "accounts.sms.backends.sipgate.SmsBackend"
# Variables passed through from the caller's environment; everything else is set here.
PASSTHROUGH_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")
READY_PATH = "/accounts/login/"
PORT_TAKEN = "Connection in use"
# Reused for migrate and user creation; a cold `manage.py` start takes about a second.
MANAGE_TIMEOUT = 180.0

_prepared_lock = threading.Lock()
_migrated: set[str] = set()
_collected: set[tuple[str, str]] = set()


# -- ports and environment ----------------------------------------------------------------


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def postgres_url_from_env() -> str | None:
    """Return the caller's DATABASE_URL when it names a PostgreSQL server, else None."""
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgres") else None


def server_env(
    *,
    database_url: str,
    sipgate_url: str,
    settings_module: str = PRODUCTION_SETTINGS,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Return a clean environment for the site's processes.

    Only a few harmless variables (PATH, HOME, locale) come from the caller; a developer's
    ``.env`` is ignored (``DJANGO_ENV_FILE=""``). ``extra`` adds or overrides variables.
    """
    env = {name: os.environ[name] for name in PASSTHROUGH_ENV if name in os.environ}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": settings_module,
            "DJANGO_ENV_FILE": "",
            "DEBUG": "false",
            # Plain HTTP on loopback: no redirect to https, no Secure-only cookies.
            "HTTPS": "false",
            "SECRET_KEY": TEST_SECRET_KEY,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": database_url,
            "SMS_BACKEND": SIPGATE_BACKEND,
            "SIPGATE_API_URL": sipgate_url,
            "SIPGATE_TOKEN_ID": DEFAULT_TOKEN_ID,
            "SIPGATE_TOKEN": DEFAULT_TOKEN,
            "SIPGATE_SMS_ID": "s0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


# -- databases ----------------------------------------------------------------------------


@contextlib.contextmanager
def throwaway_database(tmp_dir: Path, *, postgres_url: str | None = None) -> Iterator[str]:
    """Yield the DATABASE_URL of an empty database that is gone afterwards.

    Without ``postgres_url``: a SQLite file in ``tmp_dir``. With it: a new database on that
    server, created and dropped through the database ``postgres_url`` names.
    """
    if postgres_url is None:
        yield f"sqlite:///{Path(tmp_dir).resolve() / 'db.sqlite3'}"
        return
    with postgres_database(postgres_url) as url:
        yield url


def _url_with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """Create ``<name>_mp_<random>`` next to the database of ``admin_url``; yield its URL.

    The database is dropped afterwards, after ending any connection still open to it.
    """
    import psycopg
    from psycopg import sql

    base_name = urlsplit(admin_url).path.lstrip("/") or "postgres"
    name = f"{base_name[:40]}_mp_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _url_with_database(admin_url, name)
    finally:
        _drop_postgres_database(admin_url, name)


def _drop_postgres_database(admin_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        for attempt in range(5):
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )
            try:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
                return
            except psycopg.errors.ObjectInUse:
                if attempt == 4:
                    raise
                time.sleep(0.5)


# -- manage.py ------------------------------------------------------------------------------


def run_manage(
    env: Mapping[str, str], *args: str, timeout: float = MANAGE_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py ARGS`` in the project folder with ``env``; return the finished process.

    Raises RuntimeError with the command's output when it exits non-zero.
    """
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=BASE_DIR,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"manage.py {' '.join(args)} exited {result.returncode}:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def prepare_database(env: Mapping[str, str], *, collectstatic: bool = True) -> None:
    """Migrate the database of ``env`` (once per database in this process) and collect the
    static files (once per settings module and static root), so that templates using
    ``{% static %}`` work under the manifest storage that production uses."""
    with _prepared_lock:
        if env["DATABASE_URL"] not in _migrated:
            run_manage(env, "migrate", "--noinput", "--verbosity", "0")
            _migrated.add(env["DATABASE_URL"])
        static_key = (env["DJANGO_SETTINGS_MODULE"], env.get("STATIC_ROOT", ""))
        if collectstatic and static_key not in _collected:
            run_manage(env, "collectstatic", "--noinput", "--verbosity", "0")
            _collected.add(static_key)


@dataclass(frozen=True)
class UserSpec:
    """A user to create: email and E.164 phone number (the password is shared)."""

    email: str
    phone: str


# Runs inside `manage.py shell -c`: users through the manager (so emails and numbers are
# normalised as in production) with a confirmed phone number (as `createuser --verified`),
# then one Argon2 hash for all of them, set in one UPDATE.
_CREATE_USERS_SCRIPT = """
import json, os
from django.contrib.auth.hashers import make_password
from django.utils import timezone
from accounts.models import User
specs = json.loads(os.environ["E2E_USERS"])
users = [
    User.objects.create_user(
        s["email"], None, phone_number=s["phone"], phone_verified_at=timezone.now()
    )
    for s in specs
]
encoded = make_password(os.environ["DJANGO_USER_PASSWORD"])
User.objects.filter(pk__in=[u.pk for u in users]).update(password=encoded)
print(len(users))
"""


def create_users(env: Mapping[str, str], users: Sequence[UserSpec], password: str) -> None:
    """Create ``users`` with confirmed phone numbers and ``password``, hashed by the
    configured (production) hasher, in one ``manage.py shell`` process.

    Raises RuntimeError on failure.
    """
    specs = [{"email": u.email, "phone": u.phone} for u in users]
    user_env = {**env, "E2E_USERS": json.dumps(specs), "DJANGO_USER_PASSWORD": password}
    result = run_manage(user_env, "shell", "-c", _CREATE_USERS_SCRIPT)
    if result.stdout.strip().splitlines()[-1:] != [str(len(users))]:
        raise RuntimeError(f"user creation printed {result.stdout!r}")


def phone_number(index: int) -> str:
    """Return a valid German mobile number in E.164, unique for 0 <= ``index`` < 10**7."""
    if not 0 <= index < 10**7:
        raise ValueError(f"index out of range: {index}")
    return f"+49151{index + 10**7:08d}"


# -- gunicorn -------------------------------------------------------------------------------


class ServerStartError(RuntimeError):
    """gunicorn exited or did not answer in time; the message ends with its log."""


class GunicornServer:
    """One ``gunicorn -c gunicorn.conf.py`` process tree on 127.0.0.1:``port``.

    Its stdout and stderr (access log, Django log) go to ``log_path``, appended across
    restarts. ``workers``/``threads`` of None keep the values of gunicorn.conf.py.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        port: int,
        log_path: Path,
        workers: int | None = None,
        threads: int | None = None,
    ) -> None:
        self.env = dict(env)
        self.port = port
        self.log_path = Path(log_path)
        self.workers = workers
        self.threads = threads
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:8123`` (no trailing slash)."""
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        """The gunicorn master's process id; raises RuntimeError when not running."""
        if self.process is None:
            raise RuntimeError("server is not running")
        return self.process.pid

    def command(self) -> list[str]:
        """Return the gunicorn command line."""
        cmd = [PYTHON, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"{HOST}:{self.port}"]
        if self.workers is not None:
            cmd += ["--workers", str(self.workers)]
        if self.threads is not None:
            cmd += ["--threads", str(self.threads)]
        return cmd

    def start(self) -> GunicornServer:
        """Start gunicorn in its own process group without waiting; returns ``self``."""
        if self.process is not None:
            raise RuntimeError("server is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=BASE_DIR,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until a worker answers ``GET /accounts/login/`` with a non-5xx status.

        Raises ServerStartError (with the log) when gunicorn exits, answers 5xx or times out.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise ServerStartError(f"gunicorn on {self.port} exited\n{self.log_tail()}")
            try:
                response = requests.get(self.url + READY_PATH, timeout=2, allow_redirects=False)
            except requests.RequestException:
                time.sleep(0.1)
                continue
            if response.status_code >= 500:
                raise ServerStartError(
                    f"gunicorn on {self.port} answered {response.status_code}\n{self.log_tail()}"
                )
            return
        raise ServerStartError(
            f"gunicorn on {self.port} not ready in {timeout}s\n{self.log_tail()}"
        )

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the master and wait; after ``timeout`` SIGKILL its process group."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def restart(self, timeout: float = 60.0) -> None:
        """Stop the server and start it again on the same port; waits until it is ready."""
        self.stop()
        self.start().wait_ready(timeout)

    def output(self) -> str:
        """Return everything the server has written so far (all runs)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, chars: int = 4000) -> str:
        """Return the end of the server output, for error messages."""
        return self.output()[-chars:]

    def __enter__(self) -> GunicornServer:
        if self.process is None:
            self.start().wait_ready()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextlib.contextmanager
def gunicorn_server(
    *,
    database_url: str,
    sipgate_url: str,
    port: int,
    log_path: Path,
    workers: int | None = None,
    threads: int | None = None,
    settings_module: str = PRODUCTION_SETTINGS,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[GunicornServer]:
    """Migrate the database (once per database), start gunicorn on ``port``, wait until it
    answers, yield it, and stop it again."""
    env = server_env(
        database_url=database_url,
        sipgate_url=sipgate_url,
        settings_module=settings_module,
        extra=extra_env,
    )
    prepare_database(env)
    with GunicornServer(
        env, port=port, log_path=log_path, workers=workers, threads=threads
    ) as server:
        yield server


def start_all(servers: Sequence[GunicornServer], timeout: float = 60.0) -> None:
    """Start several servers at once and wait for all of them (faster than one by one).

    A server whose port was taken in the meantime (gunicorn: "Connection in use") is moved
    to another free port once.
    """
    for server in servers:
        server.start()
    for server in servers:
        try:
            server.wait_ready(timeout)
        except ServerStartError:
            if PORT_TAKEN not in server.output():
                raise
            server.stop()
            server.port = free_port()
            server.start().wait_ready(timeout)


# -- the browser-like client ---------------------------------------------------------------

CSRF_FIELD_RE = re.compile(r'name="csrfmiddlewaretoken"\s+value="([^"]+)"')


class FlowError(AssertionError):
    """A step of the sign-in flow did not answer as a browser would expect.

    ``step`` names the step ("password", "home page", ...), ``status`` the HTTP status seen.
    """

    def __init__(self, message: str, *, step: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.step = step
        self.status = status


@dataclass(frozen=True)
class Step:
    """One request the client made: what, where, the status and how long it took."""

    method: str
    url: str
    status: int
    seconds: float


@dataclass
class BrowserClient:
    """A browser: one cookie jar, redirects followed by hand so each hop can be aimed at a
    chosen server. ``forwarded_for`` adds an X-Forwarded-For header (for a trusted proxy).
    """

    timeout: float = 30.0
    forwarded_for: str | None = None
    session: requests.Session = field(default_factory=requests.Session)
    csrf_token: str = ""
    steps: list[Step] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.forwarded_for:
            self.session.headers["X-Forwarded-For"] = self.forwarded_for

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    def request(self, method: str, url: str, **kwargs: object) -> requests.Response:
        """Send one request without following redirects; remembers the page's CSRF token."""
        started = time.perf_counter()
        response = self.session.request(
            method, url, allow_redirects=False, timeout=self.timeout, **kwargs
        )
        self.steps.append(Step(method, url, response.status_code, time.perf_counter() - started))
        match = CSRF_FIELD_RE.search(response.text) if _is_html(response) else None
        if match:
            self.csrf_token = match.group(1)
        return response

    def get(self, base: str, path: str) -> requests.Response:
        """GET ``base + path``."""
        return self.request("GET", base + path)

    def post(self, base: str, path: str, data: Mapping[str, str]) -> requests.Response:
        """POST a form to ``base + path`` with the last CSRF token seen."""
        return self.request(
            "POST", base + path, data={"csrfmiddlewaretoken": self.csrf_token, **data}
        )

    def follow(self, response: requests.Response, base: str) -> requests.Response:
        """GET the redirect target of ``response`` (its path and query) on ``base``."""
        if not response.is_redirect:
            raise FlowError(
                f"expected a redirect, got {response.status_code} ({response.url})",
                step="redirect",
                status=response.status_code,
            )
        target = urlsplit(response.headers["Location"])
        path = target.path + (f"?{target.query}" if target.query else "")
        return self.get(base, path)

    def open_login(self, base: str) -> requests.Response:
        """GET the login page (step 1); it sets the CSRF cookie and token."""
        return _expect(self.get(base, "/accounts/login/"), 200, "login page")

    def submit_password(self, base: str, email: str, password: str) -> requests.Response:
        """POST email and password; returns the raw answer (302 to the code page if right)."""
        return self.post(base, "/accounts/login/", {"username": email, "password": password})

    def submit_code(self, base: str, code: str) -> requests.Response:
        """POST the code; returns the raw answer (302 to ``/`` if right, 200 with a message
        if not)."""
        return self.post(base, "/accounts/login/verify/", {"code": code})

    def resend(self, base: str) -> requests.Response:
        """POST "Send a new code"; the answer is a redirect back to the code page."""
        return self.post(base, "/accounts/login/resend/", {})

    def home(self, base: str) -> requests.Response:
        """GET ``/`` (200 with the email when signed in, else a redirect to the login)."""
        return self.get(base, "/")

    def password_step(self, base: str, email: str, password: str) -> requests.Response:
        """Open the login page, send the password and follow to the code page on ``base``."""
        self.open_login(base)
        answer = _expect(self.submit_password(base, email, password), 302, "password")
        return _expect(self.follow(answer, base), 200, "code page")

    def code_step(self, base: str, code: str) -> requests.Response:
        """Send the code on ``base`` and follow to the home page there."""
        answer = _expect(self.submit_code(base, code), 302, "code")
        return _expect(self.follow(answer, base), 200, "home page")

    def sign_in(
        self,
        *,
        email: str,
        password: str,
        read_code: Callable[[], str],
        password_base: str,
        code_base: str | None = None,
    ) -> requests.Response:
        """Walk the whole flow (password on ``password_base``, code on ``code_base``) and
        return the home page. Raises FlowError when a step answers unexpectedly."""
        self.password_step(password_base, email, password)
        home = self.code_step(code_base or password_base, read_code())
        if email not in home.text:
            raise FlowError(f"home page does not show {email}", step="signed in", status=200)
        return home


def _is_html(response: requests.Response) -> bool:
    return response.headers.get("Content-Type", "").startswith("text/html")


def _expect(response: requests.Response, status: int, step: str) -> requests.Response:
    if response.status_code != status:
        raise FlowError(
            f"{step}: expected {status}, got {response.status_code} "
            f"({response.request.method} {response.url})",
            step=step,
            status=response.status_code,
        )
    return response
