"""The stack every benchmark runs on: its own database and Redis keys, the emulator, a worker, maybe a web server.

Nothing here touches development data or another run's. Each run creates its own database, `dam_bench_jobs_<run
id>` (migrated, dropped at the end), so jobs of an interrupted run can never be picked up by a later worker; and
every Redis key it uses (Celery queues, results, the rate limiter's windows) lives under its own prefix
`dam-bench-<run id>:` in Redis DB 7 (bench/stack_settings.py), deleted at the end, so runs of other benchmarks
sharing that DB neither feed this worker tasks nor lose theirs. Child processes run in their own sessions, so a
Ctrl-C reaches only the benchmark, which then stops them, by pid, in reverse start order.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlparse

import httpx

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as `python bench/<name>.py`: the project's packages live one level up

# The server the per-run database is created on, and the Redis DB the per-run prefix lives in.
BENCH_POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
EMULATOR_API_KEY = "bench-emulator-key"
DEPLOYMENT = "gpt-image-2"
API_VERSION = "2025-04-01-preview"
# The job worker of `make run` (scripts/supervisord.conf). Renditions (CPU bound) have their own prefork workers,
# scaled apart; add `renditions` to --queues to charge their work (~170 ms of CPU per 1024x1024 job) to the same
# process.
QUEUES = "default,generation"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (the peak resident set since the process started), in KiB, from /proc."""
    figures = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            figures[key] = int(value.split()[0])
    return figures


def _stat_cpu(stat_text: str) -> float:
    fields = stat_text.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads), from /proc/<pid>/stat."""
    return _stat_cpu(Path(f"/proc/{pid}/stat").read_text())


def tree_cpu_seconds(pid: int, *, exclude: frozenset[int] = frozenset()) -> float:
    """CPU time of a process and its live descendants (the emulator's render processes, for one), less the subtrees
    of `exclude` (the benchmark's own children are the stack's parts, counted apart)."""
    if pid in exclude:
        return 0.0
    total = 0.0
    try:
        total += cpu_seconds(pid)
        tasks = Path(f"/proc/{pid}/task").iterdir()
        children = [int(child) for task in tasks for child in (task / "children").read_text().split()]
    except OSError:  # it exited between two readings
        return total
    return total + sum(tree_cpu_seconds(child, exclude=exclude) for child in children)


def postgres_backend_cpu(database: str) -> float:
    """CPU time so far of the Postgres backends serving `database` (their process title names it).

    A backend that exits between two readings takes its time with it, so differences are a lower bound.
    """
    total = 0.0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            title = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if title.startswith("postgres: ") and f" {database} " in title:
                total += _stat_cpu((proc / "stat").read_text())
        except OSError:
            continue
    return total


_PROC_STAT_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def machine_cpu_seconds() -> dict[str, float]:
    """CPU seconds of the whole machine since boot by kind (user, system, softirq, steal...), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    tick = os.sysconf("SC_CLK_TCK")
    return {name: value / tick for name, value in zip(_PROC_STAT_FIELDS, values, strict=True)}


class CpuMeter:
    """CPU used between start() and stop() by the benchmark's processes, its Postgres backends, and everything else.

    "others" is the machine's busy time minus ours and minus interrupt work: other people's processes on a shared
    machine (and short-lived processes). A large share there means the figures are not this stack's alone.
    """

    def __init__(self, pids: dict[str, int], *, database: str) -> None:
        self.pids = pids
        self.database = database

    def _read(self) -> dict[str, float]:
        named = frozenset(self.pids.values())
        used = {name: tree_cpu_seconds(pid, exclude=named - {pid}) for name, pid in self.pids.items()}
        used["postgres"] = postgres_backend_cpu(self.database)
        return used

    def start(self) -> None:
        self._start = self._read()
        self._machine = machine_cpu_seconds()

    def stop(self) -> dict[str, float]:
        used = {name: value - self._start[name] for name, value in self._read().items()}
        machine = {kind: value - self._machine[kind] for kind, value in machine_cpu_seconds().items()}
        total = sum(machine.values())
        busy = total - machine["idle"] - machine["iowait"]
        # Interrupt work (loopback networking, mostly) is not charged to any process.
        used["interrupts"] = machine["irq"] + machine["softirq"]
        used["others"] = max(0.0, busy - sum(used.values()))
        used["machine busy"] = busy
        used["machine busy share"] = busy / max(1e-9, total)
        used["machine steal"] = machine["steal"]  # a virtual machine's CPUs taken by the hypervisor
        return used

    @staticmethod
    def warn_if_contended(cpu: dict[str, float]) -> None:
        if cpu["others"] > 0.2 * cpu["machine busy"]:
            print(
                f"   WARNING: other processes took {100 * cpu['others'] / cpu['machine busy']:.0f}% of the machine's "
                "busy CPU time during the run: the figures are not this stack's alone"
            )

    @staticmethod
    def describe(cpu: dict[str, float]) -> str:
        parts = [f"{name} {cpu[name]:.1f} s" for name in cpu if not name.startswith("machine")]
        return (
            ", ".join(parts) + f"; the machine was {100 * cpu['machine busy share']:.0f}% busy "
            f"({cpu['machine busy']:.1f} CPU-s over {os.cpu_count()} CPUs, steal {cpu['machine steal']:.1f} s)"
        )


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def stop(self, *, timeout: float = 20.0, signum: int = signal.SIGTERM) -> None:
        if not self.alive():
            return
        self.process.send_signal(signum)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@dataclass
class Emulator:
    child: Child
    base_url: str

    def _control(self, method: str, path: str, json: Any = None) -> Any:
        response = httpx.request(method, f"{self.base_url}/_emulator/{path}", json=json, timeout=30)
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict[str, Any]:
        return self._control("GET", "stats")

    def reset(self) -> None:
        self._control("POST", "reset", {"restore_config": False})

    def configure(self, **fields: Any) -> dict[str, Any]:
        return self._control("POST", "config", fields)

    @property
    def generations_url(self) -> str:
        return f"{self.base_url}/openai/deployments/{DEPLOYMENT}/images/generations?api-version={API_VERSION}"

    def foundry_env(self, *, rpm: int, tpm: int) -> dict[str, str]:
        """The worker's FOUNDRY_* settings for this emulator with the given deployment quota."""
        return {
            "FOUNDRY_ENDPOINT": self.base_url,
            "FOUNDRY_API_KEY": EMULATOR_API_KEY,
            "FOUNDRY_DEPLOYMENT": DEPLOYMENT,
            "FOUNDRY_API_VERSION": API_VERSION,
            "FOUNDRY_RPM": str(rpm),
            "FOUNDRY_TPM": str(tpm),
        }


def wait_for_quiet_machine(*, timeout: float, max_busy: float = 0.25, sample: float = 5.0) -> None:
    """On a shared machine, wait (up to `timeout` s) until the CPUs are mostly idle before measuring anything."""
    deadline = time.monotonic() + timeout
    while True:
        before = machine_cpu_seconds()
        time.sleep(sample)
        after = machine_cpu_seconds()
        spent = {kind: after[kind] - before[kind] for kind in after}
        busy = 1 - (spent["idle"] + spent["iowait"]) / max(1e-9, sum(spent.values()))
        if busy <= max_busy:
            print(f"   machine {100 * busy:.0f}% busy before the run")
            return
        if time.monotonic() >= deadline:
            print(f"   machine still {100 * busy:.0f}% busy before the run (gave up waiting for it to quieten)")
            return


def run_main(main: Any) -> None:
    """Run a benchmark's main(); Ctrl-C ends it quietly once the stack has stopped its processes."""
    try:
        code = main()
    except KeyboardInterrupt:
        print("\n   interrupted: the benchmark's processes, database and Redis keys are cleaned up", file=sys.stderr)
        code = 130
    raise SystemExit(code)


def add_worker_options(parser: Any) -> None:
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="first wait up to this long for the machine's CPUs to be at most 25%% busy (shared machines)",
    )
    parser.add_argument(
        "--queues", default=QUEUES, help=f"queues the worker serves (default {QUEUES}, make run's job worker)"
    )
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment of the worker, repeatable (e.g. DB_POOL_MAX_SIZE=60)",
    )


def add_render_processes_option(parser: Any) -> None:
    parser.add_argument(
        "--render-processes",
        type=int,
        default=None,
        help="the emulator's render processes (default: its own, one per CPU up to 4; 0: its server's threads)",
    )


def render_processes_label(count: int | None) -> str:
    return "the default (one per CPU up to 4)" if count is None else str(count) if count else "none (threads)"


def worker_env_overrides(args: Any) -> dict[str, str]:
    return dict(item.split("=", 1) for item in args.worker_env)


@dataclass
class Worker:
    child: Child
    node_name: str
    concurrency: int
    queues: str

    def describe(self) -> str:
        return f"1 process, celery -P threads -c {self.concurrency} -Q {self.queues} (pid {self.child.pid})"

    def memory_kib(self) -> dict[str, int]:
        return memory_kib(self.child.pid)

    def pause(self) -> None:
        """Stop taking messages from its queues (Celery remote control); queued jobs wait in Redis."""
        from config.celery import app

        for queue in self.queues.split(","):
            app.control.cancel_consumer(queue, destination=[self.node_name], reply=True, timeout=5)

    def resume(self) -> None:
        resume_workers([self])


def resume_workers(workers: list[Worker]) -> None:
    """Take messages again: all the processes of a node at once, one broadcast per queue."""
    from config.celery import app

    for queue in workers[0].queues.split(","):
        app.control.add_consumer(queue, destination=[w.node_name for w in workers], reply=True, timeout=5)


@dataclass
class Stack:
    """The processes of one benchmark run; a context manager that always stops them."""

    name: str
    debug: bool = False  # False: production settings (DEBUG=0), as a deployed worker and web tier run
    keep_media: bool = False
    children: list[Child] = field(default_factory=list)

    def __post_init__(self) -> None:
        from cryptography.fernet import Fernet

        self.run_id = uuid.uuid4().hex[:8]
        self.database = f"dam_bench_jobs_{self.run_id}"
        self.redis_prefix = f"dam-bench-{self.run_id}:"
        self._database_created = False

        self._production_env = {
            "DEBUG": "0",
            "SECRET_KEY": f"bench-{uuid.uuid4().hex}{uuid.uuid4().hex}",
            "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            # Plain HTTP on loopback: no TLS terminator in front, so no redirect to https.
            "SECURE_SSL_REDIRECT": "0",
            "SECURE_HSTS_SECONDS": "0",
        }
        self.run_dir = REPO / "var" / "bench" / self.name
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.media_root = Path(tempfile.mkdtemp(prefix=f"dam-bench-{self.name}-"))
        self._previous_handlers: dict[int, Any] = {}

    @property
    def settings_label(self) -> str:
        return "DEBUG=1 (development)" if self.debug else "DEBUG=0 (production settings)"

    # --- life cycle ---------------------------------------------------------------------
    def __enter__(self) -> Stack:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous_handlers[signum] = signal.signal(signum, self._interrupt)
        return self

    def __exit__(self, *exc_info: object) -> None:
        # Ignore a second Ctrl-C while stopping: an interrupted cleanup would leave orphans behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for child in reversed(self.children):
            child.stop()
        if "django" in sys.modules and self._django_ready():
            from tenants.change_feed import change_feed

            change_feed.stop()  # its connection would be cut by the DROP DATABASE below
        self._drop_data_stores()
        if not self.keep_media:
            shutil.rmtree(self.media_root, ignore_errors=True)
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)

    @staticmethod
    def _django_ready() -> bool:
        from django.apps import apps

        return apps.ready

    @staticmethod
    def _interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    # --- environment --------------------------------------------------------------------
    @property
    def database_url(self) -> str:
        return urlparse(BENCH_POSTGRES_URL)._replace(path=f"/{self.database}").geturl()

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="bench.stack_settings",
            BENCH_REDIS_PREFIX=self.redis_prefix,
            DATABASE_URL=self.database_url,
            REDIS_URL=BENCH_REDIS_URL,
            CELERY_BROKER_URL=BENCH_REDIS_URL,
            CELERY_RESULT_BACKEND=BENCH_REDIS_URL,
            MEDIA_ROOT=str(self.media_root),
            STORAGE_BACKEND="local",
            LOG_LEVEL="warning",
            PYTHONUNBUFFERED="1",
        )
        env.update({"DEBUG": "1"} if self.debug else self._production_env)
        env.update(extra)
        return env

    def prepare_data_stores(self) -> None:
        """This run's database, created and migrated (its Redis prefix starts empty by construction)."""
        self._manage("ensure_database")
        self._database_created = True
        self._manage("migrate", "--no-input", "-v", "0")

    def _manage(self, *command: str) -> None:
        done = subprocess.run(
            [sys.executable, "manage.py", *command],
            check=False,
            cwd=REPO,
            env=self.env(),
            capture_output=True,
            text=True,
        )
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")

    def _drop_data_stores(self) -> None:
        import psycopg
        import redis
        from psycopg import sql

        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        if self._database_created:
            with psycopg.connect(BENCH_POSTGRES_URL, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.database)))
        client = redis.Redis.from_url(BENCH_REDIS_URL)
        keys = list(client.scan_iter(match=f"{self.redis_prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])

    def setup_django(self) -> None:
        """Configure Django in this process for this run's stores (call after prepare_data_stores)."""
        import django

        os.environ.update(self.env())
        django.setup()

    # --- processes ----------------------------------------------------------------------
    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> Child:
        log_path = self.run_dir / f"{name}.log"
        log = log_path.open("wb")
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        child = Child(name, process, log_path)
        self.children.append(child)
        return child

    def _wait_until(self, child: Child, ready, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not child.alive():
                raise RuntimeError(f"{child.name} exited early; log {child.log_path}:\n{child.log_tail()}")
            try:
                if ready():
                    return
            except (httpx.HTTPError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{child.name} not ready within {timeout}s; log {child.log_path}:\n{child.log_tail()}")

    def start_emulator(
        self,
        *,
        latency_ms: str = "0",
        rpm: int = 0,
        tpm: int = 0,
        seed: int = 1,
        recent_limit: int = 2000,
        render: str = "full",
        render_processes: int | None = None,
    ) -> Emulator:
        port = free_port()
        command = [sys.executable, "manage.py", "foundry_emulator", "--host", "127.0.0.1", "--port", str(port)]
        command += ["--latency-ms", latency_ms, "--rpm", str(rpm), "--tpm", str(tpm), "--seed", str(seed)]
        command += ["--log-level", "warning", "--render", render]
        if render_processes is not None:  # else the command's default
            command += ["--render-processes", str(render_processes)]
        child = self._spawn("emulator", command, self.env())
        emulator = Emulator(child, f"http://127.0.0.1:{port}")
        self._wait_until(child, lambda: emulator.stats() is not None, timeout=30)
        # Benchmarks read every call's arrival time and status from `recent`; keep all of them.
        emulator.configure(recent_limit=recent_limit)
        return emulator

    def start_worker(self, *, concurrency: int, env: dict[str, str], queues: str = QUEUES) -> Worker:
        from config.celery import app

        node_name = f"bench-{uuid.uuid4().hex[:8]}@localhost"
        command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "threads", "-c", str(concurrency)]
        command += ["-Q", queues, "-n", node_name, "--without-gossip", "--without-mingle", "-l", "warning"]
        # As `make run` starts its job workers (scripts/supervisord.conf): generic plans for the job's statements.
        child = self._spawn("worker", command, self.env(**{"DB_PLAN_CACHE_MODE": "auto", **env}))
        self._wait_until(child, lambda: app.control.ping(destination=[node_name], timeout=0.5), timeout=60)
        return Worker(child, node_name, concurrency, queues)

    def start_web(self, *, workers: int, threads: int = 1, env: dict[str, str] | None = None) -> str:
        """gunicorn serving the project's WSGI app, for submissions over real HTTP (`env`: more settings)."""
        port = free_port()
        command = [sys.executable, "-m", "gunicorn", "config.wsgi:application", "-b", f"127.0.0.1:{port}"]
        command += ["-w", str(workers), "--threads", str(threads), "--log-level", "warning"]
        # Its own control socket: gunicorn's default (~/.gunicorn/gunicorn.ctl) is shared by every server.
        command += ["--control-socket", str(self.run_dir / f"gunicorn-{port}.ctl")]
        child = self._spawn("web", command, self.env(**(env or {})))
        base_url = f"http://127.0.0.1:{port}"
        self._wait_until(child, lambda: httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200, timeout=60)
        return base_url

    def stop_child(self, name: str) -> None:
        """Stop the running children called `name` (a web server before the next one starts, say)."""
        for child in self.children:
            if child.name == name:
                child.stop()

    def start_profiler(self, *, pid: int, name: str, mode: str) -> tuple[Child, Path]:
        """py-spy sampling `pid` into collapsed stacks (one line per stack, its sample count last).

        mode `wall`: every thread, waiting ones included (where the time goes); `cpu`: only threads holding the GIL
        (where the Python CPU goes). Stop it with `child.stop(signum=signal.SIGINT)`: py-spy writes its file then.
        """
        output = self.run_dir / f"{name}-{mode}.collapsed.txt"
        command = [str(Path(sys.executable).with_name("py-spy")), "record", "-p", str(pid), "-f", "raw"]
        rate = os.environ.get("BENCH_PYSPY_RATE", "100")  # samples per second
        command += ["-o", str(output), "-r", rate, "--nonblocking", *(["--idle"] if mode == "wall" else ["--gil"])]
        return self._spawn(f"{name}-py-spy", command, self.env()), output
