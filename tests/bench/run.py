"""Login-storm benchmark of the production stack, on loopback only.

    python -m tests.bench.run [--duration S] [--concurrency 1,8,32] [--quick] [--strict]

It starts a throw-away database (a SQLite file in a temp folder, or a new PostgreSQL database
when DATABASE_URL names a PostgreSQL server), the fake sipgate (in this process), and gunicorn
with the production config (gunicorn.conf.py, DEBUG off, Argon2) on the settings
tests.bench.settings, which add only POST /bench/hash/. Then it measures:

1. the hash-bound limit: requests/s of /bench/hash/ (one Argon2 check each), best level;
2. complete sign-ins/s (login page, password, code page, code from the fake's SMS, code,
   home page showing the email) with sipgate answering at once and after 300 ms;
3. how long GET /accounts/login/ takes for another user while sign-ins wait on a 500 ms
   sipgate, next to the same load with a prompt sipgate.

Each level runs a fixed number of threads for --warmup + --duration seconds (and at most
--max-ops operations); only operations that end inside the measured window count for rates
and latencies, errors count over the whole level. Prints one table, where the time goes
(server and load-generator CPU per operation, per-step latencies) and the targets.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import math
import os
import runpy
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests

from tests.bench.timing import password_timing, print_password_timing
from tests.e2e.fake_sipgate import CodeNotFoundError, FakeSipgate, extract_code
from tests.e2e.servers import (
    BASE_DIR,
    BrowserClient,
    FlowError,
    GunicornServer,
    Step,
    UserSpec,
    create_users,
    free_port,
    phone_number,
    postgres_url_from_env,
    prepare_database,
    server_env,
    throwaway_database,
)

PASSWORD = "bench sign-in password 4711"
BENCH_SETTINGS = "tests.bench.settings"
REQUEST_TIMEOUT = 30.0
TARGET_CONCURRENCY = 8
TARGET_RATIO = 0.85
TARGET_LATENCY_LOSS = 0.10
SIPGATE_LATENCY = 0.3
SLOW_SIPGATE_LATENCY = 0.5
PROBE_INTERVAL = 0.1
# Above this share of the CPUs used by other processes, a level's rate is not trustworthy.
OTHER_LOAD_WARNING = 0.10
# The longest wait for every thread to finish its first operation before measuring anyway.
MAX_WARMUP = 60.0
# Every virtual browser sends its own X-Forwarded-For address (as behind the production
# proxy), and the limits are raised or switched off so that one user may sign in every few
# seconds, hundreds of times an hour (a person signs in rarely; the bench has 64 users).
SERVER_SETTINGS = {
    "TRUSTED_PROXIES": "127.0.0.1",
    "SMS_PHONE_COOLDOWN": "0",
    "IP_PASSWORD_LIMIT": "1000000",
    "IP_CODE_LIMIT": "1000000",
    "SMS_PER_PHONE_DAILY": "1000000",
    "SMS_BUDGET_HOURLY": "1000000",
    "SMS_BUDGET_DAILY": "1000000",
}
STEP_NAMES = ("GET login", "POST password", "GET code page", "POST code", "GET home")


# -- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """What to run: levels, window lengths and bounds."""

    concurrency: tuple[int, ...]
    duration: float
    warmup: float
    max_ops: int
    users: int
    stall_concurrency: int
    strict: bool


def parse_args(argv: Sequence[str] | None) -> Config:
    """Read the command line; --quick shortens everything for a smoke run."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.run", description=__doc__)
    parser.add_argument("--duration", type=float, default=None, help="measured seconds/level")
    parser.add_argument("--concurrency", default=None, help="comma list, default 1,8,32")
    parser.add_argument("--quick", action="store_true", help="short smoke run (about 1 min)")
    parser.add_argument("--max-ops", type=int, default=5000, help="bound per level")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    default_levels = "1,8" if args.quick else "1,8,32"
    levels = sorted({int(c) for c in (args.concurrency or default_levels).split(",") if c})
    if not levels or levels[0] < 1:
        parser.error("--concurrency needs positive integers, e.g. 1,8,32")
    duration = args.duration if args.duration is not None else (3.0 if args.quick else 10.0)
    return Config(
        concurrency=tuple(levels),
        duration=duration,
        warmup=1.0 if args.quick else 2.0,
        max_ops=args.max_ops,
        users=max(64, levels[-1] * 2),
        stall_concurrency=min(16, levels[-1]),
        strict=args.strict,
    )


# -- operations and levels --------------------------------------------------------------------


@dataclass(frozen=True)
class OpResult:
    """One operation: when it ran, whether it passed, why not, and its requests."""

    ok: bool
    started: float
    ended: float
    error: str = ""
    steps: tuple[Step, ...] = ()

    @property
    def seconds(self) -> float:
        return self.ended - self.started


Op = Callable[[int, int], OpResult]


@dataclass
class Level:
    """The outcome of one scenario at one concurrency."""

    scenario: str
    concurrency: int
    window: float
    measured: list[OpResult]
    errors: Counter[str]
    total_ops: int
    server_cpu: float
    client_cpu: float
    other_cpu: float
    wall: float
    probes: list[float] = field(default_factory=list)

    @property
    def own_load(self) -> float:
        """Share of the machine's CPUs that the server and the load generator used (0-1)."""
        return (self.server_cpu + self.client_cpu) / (self.wall * (os.cpu_count() or 1))

    @property
    def other_load(self) -> float:
        """Share of the machine's CPUs that other processes used during the level (0-1)."""
        return self.other_cpu / (self.wall * (os.cpu_count() or 1))

    @property
    def rate(self) -> float:
        """Successful operations per second inside the measured window."""
        return sum(r.ok for r in self.measured) / self.window

    def latency_ms(self, quantile: float) -> float:
        """Latency of the successful measured operations at ``quantile`` (0-1), in ms."""
        return percentile([r.seconds for r in self.measured if r.ok], quantile) * 1000

    def cpu_ms_per_op(self, cpu_seconds: float) -> float:
        """``cpu_seconds`` spread over every operation of the level, in ms."""
        return cpu_seconds * 1000 / self.total_ops if self.total_ops else math.nan


def percentile(values: Sequence[float], quantile: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(quantile * len(ordered)))
    return ordered[rank - 1]


def error_kind(exc: BaseException) -> str:
    """A short label for why an operation failed, for the error column."""
    if isinstance(exc, FlowError):
        return f"{exc.step} HTTP {exc.status}"
    if isinstance(exc, CodeNotFoundError):
        return "no SMS"
    if isinstance(exc, requests.Timeout):
        return "timeout"
    if isinstance(exc, requests.ConnectionError):
        return "connection"
    return type(exc).__name__


def process_tree_cpu(roots: Collection[int]) -> float:
    """CPU seconds (user + system) used so far by the processes ``roots`` and their
    children. Reads /proc; returns NaN where there is no /proc."""
    total = 0
    try:
        stats = list(Path("/proc").glob("[0-9]*/stat"))
    except OSError:
        return math.nan
    for stat in stats:
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(stat.parent.name) in roots or int(fields[1]) in roots:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK") if stats else math.nan


def parent_pid(pid: int) -> int | None:
    """The parent of process ``pid`` (from /proc), or None."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def postgres_server_pid(database_url: str) -> int | None:
    """The PostgreSQL postmaster behind ``database_url`` (the parent of our backend), so
    that the database's CPU counts as the server's; None when it is not visible here."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        return parent_pid(int(row[0])) if row else None


def machine_busy_cpu() -> float:
    """CPU seconds all CPUs have spent busy since boot (from /proc/stat); NaN without it."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return math.nan
    ticks = [int(x) for x in fields[:8]]  # user nice system idle iowait irq softirq steal
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


class Prober:
    """Another user: GET the login page on a new connection every PROBE_INTERVAL seconds."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.latencies: list[float] = []
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prober", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                response = requests.get(self.url, timeout=REQUEST_TIMEOUT)
                ok = response.status_code == 200
            except requests.RequestException:
                ok = False
            if ok:
                self.latencies.append(time.monotonic() - started)
            else:
                self.failures += 1
            self._stop.wait(PROBE_INTERVAL)

    def start(self) -> Prober:
        self._thread.start()
        return self

    def stop(self) -> list[float]:
        """Stop probing and return the latencies seen (seconds)."""
        self._stop.set()
        self._thread.join(REQUEST_TIMEOUT + 1)
        return self.latencies


class LoadWindow:
    """When to stop: the measured window opens once every thread has finished one operation
    (the synchronised start has spread out) and the minimum warm-up has passed."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self.stop_at = math.inf
        self._warm: set[int] = set()
        self._lock = threading.Lock()
        self._all_warm = threading.Event()

    def finished_one(self, worker: int) -> None:
        """Note that ``worker`` has finished an operation."""
        with self._lock:
            self._warm.add(worker)
            if len(self._warm) == self.concurrency:
                self._all_warm.set()

    def open(self, started: float, config: Config) -> tuple[float, float]:
        """Wait for the warm-up, fix the window and return its (start, stop) times."""
        self._all_warm.wait(MAX_WARMUP)
        window_start = max(time.monotonic(), started + config.warmup)
        time.sleep(max(0.0, window_start - time.monotonic()))
        self.stop_at = window_start + config.duration
        return window_start, self.stop_at


def run_level(
    *,
    scenario: str,
    concurrency: int,
    op: Op,
    config: Config,
    cpu_roots: Collection[int],
    probe_url: str | None = None,
) -> Level:
    """Run ``op`` in ``concurrency`` threads through warm-up and the measured window (and at
    most ``config.max_ops`` times), let the operations in flight finish, and measure."""
    results: list[OpResult] = []
    budget = itertools.count()
    window = LoadWindow(concurrency)

    def worker(index: int) -> None:
        for iteration in itertools.count():
            if time.monotonic() >= window.stop_at or next(budget) >= config.max_ops:
                return
            results.append(op(index, iteration))
            window.finished_one(index)

    cpu_before = (process_tree_cpu(cpu_roots), time.process_time(), machine_busy_cpu())
    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    window_start, stop_at = window.open(started, config)
    probes = _probe_until(probe_url, stop_at)
    for thread in threads:
        thread.join(max(0.0, stop_at + 2 * REQUEST_TIMEOUT - time.monotonic()))
    return Level(
        scenario=scenario,
        concurrency=concurrency,
        window=config.duration,
        measured=[r for r in results if window_start <= r.ended <= stop_at],
        errors=Counter(r.error for r in results if not r.ok),
        total_ops=len(results),
        **_cpu_split(cpu_roots, cpu_before),
        wall=time.monotonic() - started,
        probes=probes,
    )


def _cpu_split(roots: Collection[int], before: tuple[float, float, float]) -> dict[str, float]:
    """CPU seconds since ``before``: the server's, this process's and everybody else's."""
    server_cpu = process_tree_cpu(roots) - before[0]
    client_cpu = time.process_time() - before[1]
    busy = machine_busy_cpu() - before[2]
    return {
        "server_cpu": server_cpu,
        "client_cpu": client_cpu,
        "other_cpu": max(0.0, busy - server_cpu - client_cpu),
    }


def _probe_until(url: str | None, stop: float) -> list[float]:
    """Probe ``url`` from now until ``stop`` (monotonic time); no URL, no probes."""
    if url is None:
        return []
    prober = Prober(url).start()
    time.sleep(max(0.0, stop - time.monotonic()))
    return prober.stop()


def hash_op(base_url: str, concurrency: int) -> Op:
    """POST /bench/hash/ on one keep-alive connection per thread; 204 is a pass."""
    sessions = [requests.Session() for _ in range(concurrency)]

    def op(worker: int, iteration: int) -> OpResult:
        started = time.monotonic()
        try:
            response = sessions[worker].post(base_url + "/bench/hash/", timeout=REQUEST_TIMEOUT)
        except requests.RequestException as exc:
            return OpResult(False, started, time.monotonic(), error_kind(exc))
        ok = response.status_code == 204
        error = "" if ok else f"hash HTTP {response.status_code}"
        return OpResult(ok, started, time.monotonic(), error)

    return op


@dataclass(frozen=True)
class BenchUser:
    """A bench user and the client address its browser claims (X-Forwarded-For)."""

    spec: UserSpec
    ip: str


def bench_users(count: int) -> list[BenchUser]:
    """``count`` users with distinct phone numbers and client addresses."""
    return [
        BenchUser(
            UserSpec(email=f"bench{i:03d}@example.com", phone=phone_number(i)),
            ip=f"10.0.{i // 250}.{i % 250 + 1}",
        )
        for i in range(count)
    ]


def new_code(fake: FakeSipgate, phone: str, sent_after: float) -> str:
    """Return the code of the newest SMS to ``phone`` if it arrived after ``sent_after``
    (wall-clock time); raises CodeNotFoundError otherwise, so a stale code is never typed."""
    newest = next((m for m in reversed(fake.messages) if m.recipient == phone), None)
    if newest is None or newest.received_at < sent_after:
        raise CodeNotFoundError(f"no new SMS to {phone}")
    return extract_code(newest.message)


def sign_in_op(
    base_url: str, fake: FakeSipgate, users: Sequence[BenchUser], concurrency: int
) -> Op:
    """A complete sign-in by a new browser; thread ``w`` uses only users ``w``, ``w + c``, ...
    so no two threads ever wait on the same user's rows."""

    def op(worker: int, iteration: int) -> OpResult:
        owned = users[worker::concurrency]
        user = owned[iteration % len(owned)]
        browser = BrowserClient(timeout=REQUEST_TIMEOUT, forwarded_for=user.ip)
        started, sent_after = time.monotonic(), time.time()
        try:
            browser.sign_in(
                email=user.spec.email,
                password=PASSWORD,
                read_code=lambda: new_code(fake, user.spec.phone, sent_after),
                password_base=base_url,
            )
        except Exception as exc:  # every failure is counted by kind, none ends the bench
            return OpResult(False, started, time.monotonic(), error_kind(exc), (*browser.steps,))
        finally:
            browser.close()
        return OpResult(True, started, time.monotonic(), "", (*browser.steps,))

    return op


# -- the stack ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stack:
    """The system under test: gunicorn, the fake sipgate, and the process ids whose CPU
    counts as the server's (gunicorn, and PostgreSQL when it runs on this machine)."""

    server: GunicornServer
    fake: FakeSipgate
    cpu_roots: tuple[int, ...]
    env: dict[str, str]


@contextlib.contextmanager
def bench_stack(tmp: Path, users: Sequence[BenchUser]) -> Iterator[Stack]:
    """Database, users, fake sipgate and the production gunicorn; stopped afterwards."""
    with (
        FakeSipgate() as fake,
        throwaway_database(tmp, postgres_url=postgres_url_from_env()) as database_url,
    ):
        env = server_env(
            database_url=database_url,
            sipgate_url=fake.base_url,
            settings_module=BENCH_SETTINGS,
            extra={**SERVER_SETTINGS, "STATIC_ROOT": str(tmp / "static")},
        )
        prepare_database(env)
        create_users(env, [u.spec for u in users], PASSWORD)
        with GunicornServer(env, port=free_port(), log_path=tmp / "gunicorn.log") as server:
            _require_loopback(server.url)
            _require_loopback(fake.base_url)
            database_pid = postgres_server_pid(database_url) if postgres_url_from_env() else None
            roots = (server.pid,) if database_pid is None else (server.pid, database_pid)
            yield Stack(server, fake, roots, dict(env))


def _require_loopback(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in {"127.0.0.1", "localhost"}:
        raise RuntimeError(f"the bench only talks to loopback, not {url}")


def warm_up(server: GunicornServer, fake: FakeSipgate, users: Sequence[BenchUser]) -> None:
    """A few sign-ins and hash checks, so that every worker has loaded its code and hashes."""
    for op in (hash_op(server.url, 4), sign_in_op(server.url, fake, users, 4)):
        for index in range(8):
            result = op(index % 4, index // 4)
            if not result.ok:
                raise RuntimeError(f"warm-up failed: {result.error}\n{server.log_tail()}")
    fake.clear()


# -- measuring ----------------------------------------------------------------------------------


@dataclass
class Report:
    """Everything measured in one run."""

    hash_levels: list[Level]
    sign_in_levels: dict[float, list[Level]]
    stall_levels: dict[float, Level]
    idle_probes: list[float]
    log_locked: int
    log_5xx: int

    @property
    def limit(self) -> float:
        return max(level.rate for level in self.hash_levels)


def measure(config: Config, stack: Stack, users: Sequence[BenchUser]) -> Report:
    """Run every scenario in turn and return the measurements."""
    server, fake = stack.server, stack.fake
    level = _level_runner(config, stack.cpu_roots)
    hash_levels = [
        level("hash check (limit)", c, hash_op(server.url, c)) for c in config.concurrency
    ]
    sign_in_levels: dict[float, list[Level]] = {}
    for latency in (0.0, SIPGATE_LATENCY):
        fake.latency = latency
        sign_in_levels[latency] = [
            level(_sign_in_name(latency), c, sign_in_op(server.url, fake, users, c))
            for c in config.concurrency
        ]
        fake.clear()
    idle_probes = _probe_until(server.url + "/accounts/login/", time.monotonic() + 2)
    stall_levels: dict[float, Level] = {}
    for latency in (0.0, SLOW_SIPGATE_LATENCY):
        fake.latency = latency
        c = config.stall_concurrency
        stall_levels[latency] = level(
            _sign_in_name(latency) + " + prober",
            c,
            sign_in_op(server.url, fake, users, c),
            probe_url=server.url + "/accounts/login/",
        )
        fake.clear()
    output = server.output()
    return Report(
        hash_levels=hash_levels,
        sign_in_levels=sign_in_levels,
        stall_levels=stall_levels,
        idle_probes=idle_probes,
        log_locked=output.lower().count("database is locked"),
        log_5xx=sum(1 for line in output.splitlines() if '" 5' in line and "HTTP/1" in line),
    )


def _level_runner(config: Config, cpu_roots: Collection[int]) -> Callable[..., Level]:
    def level(scenario: str, concurrency: int, op: Op, probe_url: str | None = None) -> Level:
        print(f"  running: {scenario}, concurrency {concurrency} ...", file=sys.stderr, flush=True)
        return run_level(
            scenario=scenario,
            concurrency=concurrency,
            op=op,
            config=config,
            cpu_roots=cpu_roots,
            probe_url=probe_url,
        )

    return level


def _sign_in_name(latency: float) -> str:
    return f"sign-in, sipgate {latency * 1000:.0f} ms"


# -- printing -----------------------------------------------------------------------------------

ROW = "{:<34} {:>4} {:>9} {:>8} {:>8} {:>8}  {:>8}  {}"
COST_ROW = "{:<34} {:>4} {:>7} {:>14} {:>16} {:>15} {:>16}"
STEP_ROW = "{:<34} {:>4} " + " ".join(["{:>14}"] * len(STEP_NAMES))


def print_report(report: Report, config: Config, header: str) -> bool:
    """Print the tables and the targets; return True when every target is met."""
    print(header)
    print()
    print(
        ROW.format("scenario", "conc", "ops/s", "p50 ms", "p95 ms", "p99 ms", "vs limit", "errors")
    )
    for level in _all_levels(report):
        print(_row(level, report.limit))
    print(f"\nhash-bound limit: {report.limit:.2f} checks/s (best /bench/hash/ level)")
    print(_cpu_ratio_line(report))
    _print_costs(report)
    _print_steps(report)
    _print_stall(report)
    return _print_targets(report, config)


def _all_levels(report: Report) -> list[Level]:
    return report.hash_levels + [lv for lvs in report.sign_in_levels.values() for lv in lvs]


def _row(level: Level, limit: float) -> str:
    errors = ", ".join(f"{kind} x{n}" for kind, n in level.errors.most_common()) or "none"
    return ROW.format(
        level.scenario,
        level.concurrency,
        f"{level.rate:.2f}",
        f"{level.latency_ms(0.50):.0f}",
        f"{level.latency_ms(0.95):.0f}",
        f"{level.latency_ms(0.99):.0f}",
        f"{level.rate / limit:.2f}" if limit else "-",
        errors,
    )


def _cpu_cost(level: Level) -> float:
    """Server plus load-generator CPU per operation, in ms: what one operation costs the
    machine's cores."""
    return level.cpu_ms_per_op(level.server_cpu + level.client_cpu)


def _cpu_ratio_line(report: Report) -> str:
    hashes = _at(report.hash_levels, TARGET_CONCURRENCY)
    sign_ins = _at(report.sign_in_levels[0.0], TARGET_CONCURRENCY)
    if hashes is None or sign_ins is None:
        return "CPU-bound estimate: needs concurrency 8"
    per_hash, per_sign_in = _cpu_cost(hashes), _cpu_cost(sign_ins)
    return (
        f"CPU per operation at concurrency {TARGET_CONCURRENCY} (server + load generator): "
        f"hash check {per_hash:.0f} ms, sign-in {per_sign_in:.0f} ms; a CPU-bound machine "
        f"gives a ratio of about {per_hash / per_sign_in:.2f} (not skewed by other load)"
    )


def _print_costs(report: Report) -> None:
    print(
        "\nwhere the time goes (CPU per operation over the whole level incl. warm-up; "
        "server = gunicorn, and PostgreSQL when used):"
    )
    print(
        COST_ROW.format(
            "scenario",
            "conc",
            "ops",
            "server CPU ms",
            "load-gen CPU ms",
            "CPUs: ours",
            "CPUs: others",
        )
    )
    for level in _all_levels(report):
        server_ms = level.cpu_ms_per_op(level.server_cpu)
        client_ms = level.cpu_ms_per_op(level.client_cpu)
        print(
            COST_ROW.format(
                level.scenario,
                level.concurrency,
                level.total_ops,
                f"{server_ms:.1f}",
                f"{client_ms:.1f}",
                f"{level.own_load:.0%}",
                f"{level.other_load:.0%}",
            )
        )


def _print_steps(report: Report) -> None:
    print("\nmean latency per request of a sign-in, ms:")
    print(STEP_ROW.format("scenario", "conc", *STEP_NAMES))
    for levels in report.sign_in_levels.values():
        for level in levels:
            means = [f"{m:.0f}" for m in _step_means(level)]
            print(STEP_ROW.format(level.scenario, level.concurrency, *means))


def _step_means(level: Level) -> list[float]:
    columns: list[list[float]] = [[] for _ in STEP_NAMES]
    for result in level.measured:
        if result.ok and len(result.steps) == len(STEP_NAMES):
            for column, step in zip(columns, result.steps, strict=True):
                column.append(step.seconds)
    return [sum(c) * 1000 / len(c) if c else math.nan for c in columns]


def _print_stall(report: Report) -> None:
    print("\nanother user's GET /accounts/login/ (new connection every 0.1 s), ms:")
    print(f"  idle server: {_probe_summary(report.idle_probes)}")
    for latency, level in report.stall_levels.items():
        print(
            f"  during {level.concurrency} concurrent sign-ins, sipgate {latency * 1000:.0f} ms: "
            f"{_probe_summary(level.probes)}; sign-ins {level.rate:.2f}/s, "
            f"p50 {level.latency_ms(0.5):.0f} ms, errors {sum(level.errors.values())}"
        )


def _probe_summary(latencies: Sequence[float]) -> str:
    if not latencies:
        return "no probes"
    p50, p95 = (percentile(latencies, q) * 1000 for q in (0.5, 0.95))
    return (
        f"p50 {p50:.0f}, p95 {p95:.0f}, max {max(latencies) * 1000:.0f} ({len(latencies)} probes)"
    )


def _print_targets(report: Report, config: Config) -> bool:
    checks = [
        _ratio_target(report, config),
        _latency_target(report, config),
        _error_target(report, config),
    ]
    checks.append(_stall_target(report))
    checks.append(
        (
            report.log_locked == 0 and report.log_5xx == 0,
            f'server log: {report.log_locked} x "database is locked", {report.log_5xx} x 5xx',
        )
    )
    print("\ntargets:")
    for met, text in checks:
        print(f"  [{'met' if met else 'NOT MET'}] {text}")
    _print_interference(report)
    return all(met for met, _ in checks)


def _print_interference(report: Report) -> None:
    """Warn when other processes took a noticeable share of the CPUs during a level."""
    levels = _all_levels(report) + list(report.stall_levels.values())
    busy = [lv for lv in levels if lv.other_load > OTHER_LOAD_WARNING]
    if busy:
        worst = max(lv.other_load for lv in busy)
        print(
            f"  warning: other processes used up to {worst:.0%} of the CPUs during "
            f"{len(busy)} of {len(levels)} levels; those rates are low and the ratios "
            "skewed: rerun on a quiet machine"
        )


def _at(levels: Sequence[Level], concurrency: int) -> Level | None:
    return next((lv for lv in levels if lv.concurrency == concurrency), None)


def _ratio_target(report: Report, config: Config) -> tuple[bool, str]:
    level = _at(report.sign_in_levels[0.0], TARGET_CONCURRENCY)
    if level is None:
        return False, f"sign-ins at concurrency {TARGET_CONCURRENCY}: not measured"
    ratio = level.rate / report.limit
    return ratio >= TARGET_RATIO, (
        f">= {TARGET_RATIO:.2f} of the hash-bound limit at concurrency {TARGET_CONCURRENCY}: "
        f"{level.rate:.2f} / {report.limit:.2f} = {ratio:.3f}"
    )


def _latency_target(report: Report, config: Config) -> tuple[bool, str]:
    parts, met = [], True
    for prompt in report.sign_in_levels[0.0]:
        slow = _at(report.sign_in_levels[SIPGATE_LATENCY], prompt.concurrency)
        if slow is None or prompt.concurrency < TARGET_CONCURRENCY or not prompt.rate:
            continue
        loss = 1 - slow.rate / prompt.rate
        met = met and loss <= TARGET_LATENCY_LOSS
        parts.append(f"concurrency {prompt.concurrency}: {loss:+.1%}")
    if not parts:
        return False, "300 ms sipgate: no level at concurrency >= 8 measured"
    return met, (
        f"<= {TARGET_LATENCY_LOSS:.0%} of sign-ins/s lost to a {SIPGATE_LATENCY * 1000:.0f} ms "
        f"sipgate (at concurrency >= {TARGET_CONCURRENCY}): " + ", ".join(parts)
    )


def _error_target(report: Report, config: Config) -> tuple[bool, str]:
    top = config.concurrency[-1]
    levels = [lv for lvs in report.sign_in_levels.values() for lv in lvs if lv.concurrency == top]
    errors = sum(sum(lv.errors.values()) for lv in levels)
    return errors == 0 and top >= 32, f"zero errors at concurrency {top}: {errors} errors" + (
        "" if top >= 32 else " (32 not measured)"
    )


def _stall_target(report: Report) -> tuple[bool, str]:
    slow = report.stall_levels[SLOW_SIPGATE_LATENCY]
    prompt = report.stall_levels[0.0]
    if not slow.probes or not prompt.probes:
        return False, "slow sipgate does not stall others: no probes"
    p95_slow, p95_prompt = percentile(slow.probes, 0.95), percentile(prompt.probes, 0.95)
    met = p95_slow < SLOW_SIPGATE_LATENCY and p95_slow <= max(2 * p95_prompt, 0.05)
    return met, (
        f"a {SLOW_SIPGATE_LATENCY * 1000:.0f} ms sipgate does not stall other users: login page "
        f"p95 {p95_slow * 1000:.0f} ms (with a prompt sipgate {p95_prompt * 1000:.0f} ms)"
    )


def describe(
    server: GunicornServer, config: Config, users: int, load_before: Sequence[float]
) -> str:
    """A header: machine, database, gunicorn and hasher settings, and the bench's levels."""
    gunicorn_conf = runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))
    database = "PostgreSQL" if server.env["DATABASE_URL"].startswith("postgres") else "SQLite"
    before, after = (
        ", ".join(f"{x:.1f}" for x in load) for load in (load_before, os.getloadavg())
    )
    from django.contrib.auth.hashers import Argon2PasswordHasher as Argon2

    return (
        f"twofa_site login-storm bench: {os.cpu_count()} CPUs, {database}, gunicorn "
        f"{gunicorn_conf['worker_class']} workers={gunicorn_conf['workers']} "
        f"threads={gunicorn_conf['threads']}, Argon2 t={Argon2.time_cost} "
        f"m={Argon2.memory_cost} KiB p={Argon2.parallelism}\n"
        f"{users} users; each level: warm-up (>= {config.warmup:.0f} s, until every thread "
        f"has finished one operation) + {config.duration:.0f} s measured, at most "
        f"{config.max_ops} operations\n"
        f"load average (1, 5, 15 min) before: {before}; after: {after} "
        f"(anything else running on these {os.cpu_count()} CPUs skews the rates)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench and print the report; 0, or 1 with --strict when a target is missed."""
    config = parse_args(argv)
    users = bench_users(config.users)
    started = time.monotonic()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="twofa-bench-") as tmp:
        with bench_stack(Path(tmp), users) as stack:
            print(f"  setup took {time.monotonic() - started:.0f} s", file=sys.stderr)
            warm_up(stack.server, stack.fake, users)
            report = measure(config, stack, users)
            timing = password_timing(
                base_url=stack.server.url,
                env=stack.env,
                known=users[0].spec.email,
                locked=users[1].spec.email,
                password=PASSWORD,
            )
        header = describe(stack.server, config, len(users), load_before)
        met = print_report(report, config, header)
        print_password_timing(timing)
    print(f"\nbench took {time.monotonic() - started:.0f} s")
    return 1 if config.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main())
