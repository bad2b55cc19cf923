"""Load test: mlgov under gunicorn, PostgreSQL and Redis on this machine, at two data sizes.

    .venv/bin/python benchmarks/load.py                # sizes S and L, 1/10/50 users (~15 min)
    .venv/bin/python benchmarks/load.py --quick        # a small smoke run (~1 min)
    .venv/bin/python benchmarks/load.py --sizes S --duration 5

For each size it (re)creates the PostgreSQL database `mlgov_bench` (and no other), migrates,
seeds it with `manage.py seed_scale`, starts gunicorn with the production settings on
127.0.0.1, logs in (API token and browser session), and then, for every endpoint of ENDPOINTS
and every concurrency, runs that many virtual users for a bounded time: each sends a request,
waits for the answer, sends the next. It prints one table (p50/p95/p99 latency, requests per
second, errors, the client's own CPU use and the whole machine's) and writes
benchmarks/results/load.json.

The client is a few hundred lines of asyncio streams (no HTTP library needed): it shares the
two cores with the server and the database, so it is kept light and its CPU use is reported.
Traffic goes to 127.0.0.1 only; every loop is bounded in time and in requests.

Services: PostgreSQL at postgres://postgres@127.0.0.1:5432 (trust auth) and Redis at
127.0.0.1:6379 (database 9), as on the project machines (docs/performance.md).
"""

import argparse
import asyncio
import json
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HOST = "127.0.0.1"  # loopback only, never anything else
DB_NAME = "mlgov_bench"
PG_URL = f"postgres://postgres@{HOST}:5432"
REDIS_URL = f"redis://{HOST}:6379/9"
PASSWORD = "bench-" + secrets.token_urlsafe(12)  # noqa: S105 - generated per run
PREFIX = "bench"
MAX_REQUESTS_PER_CELL = 200_000

# Data sizes: arguments of `manage.py seed_scale`.
SIZES = {
    "XS": {"teams": 5, "users": 40, "models": 100, "versions_per_model": 3, "datasets": 20,
           "assessments": 300, "findings": 5_000, "audit_entries": 5_000},
    "S": {"teams": 20, "users": 200, "models": 1_000, "versions_per_model": 3, "datasets": 200,
          "assessments": 5_000, "findings": 100_000, "audit_entries": 100_000},
    "L": {"teams": 100, "users": 1_000, "models": 10_000, "versions_per_model": 3,
          "datasets": 2_000, "assessments": 50_000, "findings": 1_000_000,
          "audit_entries": 1_000_000},
}

# The endpoints measured: (name, method, path, who). `path` may name values found after login:
# {model_id} (a model in the middle of the list), {findings_last} (the `last` link of the
# findings list). `who`: "auditor" (API token, reads every team), "scientist" (API token, one
# or two teams), "page" (browser session of the auditor), "login" (no credentials).
# Adding an endpoint is one line.
ENDPOINTS = [
    ("models API", "GET", "/api/v1/models/", "auditor"),
    ("model list page", "GET", "/models/", "page"),
    ("model detail page", "GET", "/models/{model_id}/", "page"),
    ("findings API page 1", "GET", "/api/v1/findings/", "auditor"),
    ("findings API last page", "GET", "{findings_last}", "auditor"),
    ("findings API (team)", "GET", "/api/v1/findings/", "scientist"),
    ("audit API page 1", "GET", "/api/v1/audit-entries/", "auditor"),
    ("dashboard", "GET", "/dashboard/", "page"),
    ("token login", "POST", "/api/v1/auth/token/", "login"),
]


# --- A small HTTP/1.1 client on asyncio streams --------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict
    body: bytes


class Connection:
    """One keep-alive connection (reopened when the server closes it, as gunicorn's sync
    workers do after each answer)."""

    def __init__(self, port: int):
        self.port = port
        self.reader = self.writer = None

    async def request(self, method: str, path: str, headers: dict, body: bytes = b"") -> Answer:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", "Accept: */*",
                 f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            await self.close()
            raise
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        answer_headers: dict = {}
        for line in header_lines:
            if ":" in line:
                name, value = line.split(":", 1)
                answer_headers.setdefault(name.strip().lower(), []).append(value.strip())
        length = int(answer_headers.get("content-length", ["0"])[0])
        data = await self.reader.readexactly(length) if length else b""
        if "close" in answer_headers.get("connection", [""])[0].lower():
            await self.close()
        return Answer(status, answer_headers, data)

    async def close(self):
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except (ConnectionError, OSError):
                pass
        self.reader = self.writer = None


async def one_request(port, method, path, headers=None, body=b"") -> Answer:
    connection = Connection(port)
    try:
        return await connection.request(method, path, headers or {}, body)
    finally:
        await connection.close()


def cookies_of(answer: Answer) -> dict:
    jar = {}
    for line in answer.headers.get("set-cookie", []):
        name, _, rest = line.partition("=")
        jar[name.strip()] = rest.split(";", 1)[0]
    return jar


# --- Server life cycle ---------------------------------------------------------------------------


def server_env(workdir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MLGOV_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "mlgov.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": HOST,
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": f"{PG_URL}/{DB_NAME}",
        "CELERY_BROKER_URL": REDIS_URL,
        "MLGOV_DATA_DIR": str(workdir / "data"),
        "MLGOV_MEDIA_ROOT": str(workdir / "media"),
        "MLGOV_STATIC_ROOT": str(workdir / "static"),
        "MLGOV_LOG_LEVEL": "WARNING",
        # Token login is throttled to 20 a minute per address by default; the benchmark
        # measures what a login costs, not the throttle.
        "MLGOV_TOKEN_LOGIN_RATE": "1000000/min",
        "MLGOV_AUTO_SCAN_ON_REGISTER": "false",
    })
    return env


def manage(env: dict, *args: str, quiet: bool = True) -> str:
    result = subprocess.run(  # noqa: S603 - our own manage.py, fixed arguments
        [PYTHON, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, capture_output=True,
        text=True, timeout=1800, check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def recreate_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def start_gunicorn(env: dict, port: int, workers: int) -> subprocess.Popen:
    command = [PYTHON, "-m", "gunicorn", "mlgov.wsgi:application", "--bind", f"{HOST}:{port}",
               "--workers", str(workers), "--worker-class", "sync", "--backlog", "2048",
               "--timeout", "60", "--log-level", "warning"]
    process = subprocess.Popen(  # noqa: S603 - fixed arguments
        command, env=env, cwd=ROOT, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited: {process.stderr.read().decode()[-2000:]}")
        try:
            answer = asyncio.run(one_request(port, "GET", "/healthz"))
            if answer.status == 200:
                return process
        except OSError:
            pass
        time.sleep(0.3)
    stop_gunicorn(process)
    raise SystemExit("gunicorn did not answer /healthz within 60 s (are PostgreSQL and Redis up?)")


def stop_gunicorn(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)  # the group we started, nothing else
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


# --- Logging in and resolving paths ------------------------------------------------------------


async def token_for(port: int, username: str) -> str:
    body = json.dumps({"username": username, "password": PASSWORD}).encode()
    answer = await one_request(port, "POST", "/api/v1/auth/token/",
                               {"Content-Type": "application/json"}, body)
    if answer.status != 200:
        raise SystemExit(f"token login as {username}: {answer.status} {answer.body[:300]!r}")
    return json.loads(answer.body)["token"]


async def session_for(port: int, username: str) -> str:
    page = await one_request(port, "GET", "/accounts/login/")
    jar = cookies_of(page)
    csrf = jar.get("csrftoken", "")
    form = urllib.parse.urlencode({"username": username, "password": PASSWORD,
                                   "csrfmiddlewaretoken": csrf}).encode()
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    answer = await one_request(port, "POST", "/accounts/login/", {
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie,
        "Referer": f"http://{HOST}:{port}/accounts/login/"}, form)
    jar.update(cookies_of(answer))
    if answer.status != 302:
        raise SystemExit(f"session login as {username}: {answer.status} {answer.body[:300]!r}")
    return "; ".join(f"{k}={v}" for k, v in jar.items())


@dataclass
class Credentials:
    headers: dict = field(default_factory=dict)  # who -> request headers
    values: dict = field(default_factory=dict)   # placeholders of paths


async def log_in(port: int) -> Credentials:
    auditor, scientist = f"{PREFIX}-user-000000", f"{PREFIX}-user-000002"
    creds = Credentials()
    creds.headers["auditor"] = {"Authorization": f"Token {await token_for(port, auditor)}"}
    creds.headers["scientist"] = {"Authorization": f"Token {await token_for(port, scientist)}"}
    creds.headers["page"] = {"Cookie": await session_for(port, auditor)}
    creds.headers["login"] = {"Content-Type": "application/json"}
    models = await one_request(port, "GET", "/api/v1/models/?page_size=1&ordering=created_at",
                               creds.headers["auditor"])
    first_id = json.loads(models.body)["results"][0]["id"]
    size_models = json.loads(models.body).get("count", 2)
    creds.values["model_id"] = first_id + size_models // 2
    findings = await one_request(port, "GET", "/api/v1/findings/", creds.headers["auditor"])
    last = json.loads(findings.body)["last"]
    creds.values["findings_last"] = urllib.parse.urlsplit(last)._replace(
        scheme="", netloc="").geturl()
    creds.values["login_body"] = json.dumps({"username": auditor, "password": PASSWORD})
    return creds


# --- Measuring ---------------------------------------------------------------------------------


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    with open("/proc/stat") as stat:
        numbers = [int(x) for x in stat.readline().split()[1:]]
    idle = numbers[3] + numbers[4]
    return sum(numbers) - idle, sum(numbers)


def idle_load(seconds: float = 2.0) -> float:
    """How busy the machine is with other work (%), measured before the server starts."""
    before = machine_busy()
    time.sleep(seconds)
    after = machine_busy()
    return round(100 * (after[0] - before[0]) / max(after[1] - before[1], 1), 1)


async def run_cell(port: int, method: str, path: str, headers: dict, body: bytes,
                   users: int, duration: float) -> dict:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.perf_counter() + duration

    async def user():
        connection = Connection(port)
        try:
            while time.perf_counter() < deadline and len(latencies) < MAX_REQUESTS_PER_CELL:
                started = time.perf_counter()
                try:
                    answer = await asyncio.wait_for(
                        connection.request(method, path, headers, body), timeout=60)
                except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    await connection.close()
                    continue
                latencies.append(time.perf_counter() - started)
                if answer.status >= 400:
                    errors[str(answer.status)] = errors.get(str(answer.status), 0) + 1
        finally:
            await connection.close()

    cpu0, wall0, busy0 = time.process_time(), time.perf_counter(), machine_busy()
    await asyncio.gather(*(user() for _ in range(users)))
    cpu1, wall1, busy1 = time.process_time(), time.perf_counter(), machine_busy()
    ms = sorted(x * 1000 for x in latencies)

    def pct(p: float) -> float:
        return round(ms[min(len(ms) - 1, int(p / 100 * len(ms)))], 1) if ms else float("nan")

    wall = wall1 - wall0
    return {
        "requests": len(ms), "seconds": round(wall, 2),
        "rps": round(len(ms) / wall, 1) if wall else 0.0,
        "p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99),
        "mean_ms": round(statistics.fmean(ms), 1) if ms else float("nan"),
        "errors": errors,
        "client_cpu_pct": round(100 * (cpu1 - cpu0) / wall, 1) if wall else 0.0,
        "machine_cpu_pct": round(100 * (busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1), 1),
    }


async def bench_size(port: int, creds: Credentials, concurrencies, duration, size) -> list[dict]:
    rows = []
    for name, method, template, who in ENDPOINTS:
        path = template.format(**creds.values)
        headers = dict(creds.headers[who])
        body = creds.values["login_body"].encode() if who == "login" else b""
        probe = await one_request(port, method, path, headers, body)
        if probe.status != 200:
            print(f"  {name}: {method} {path} answers {probe.status}; skipped", flush=True)
            rows.append({"size": size, "endpoint": name, "path": template, "skipped":
                         f"answers {probe.status}"})
            continue
        # Warm up every worker process (imports, connections, caches) before measuring.
        await run_cell(port, method, path, headers, body, users=5, duration=min(2.0, duration))
        for users in concurrencies:
            result = await run_cell(port, method, path, headers, body, users, duration)
            row = {"size": size, "endpoint": name, "path": template, "users": users, **result}
            rows.append(row)
            print(f"  {name:24} {users:>3} users  p50 {result['p50_ms']:>7} ms  "
                  f"p95 {result['p95_ms']:>7} ms  p99 {result['p99_ms']:>7} ms  "
                  f"{result['rps']:>6} req/s  errors {sum(result['errors'].values())}",
                  flush=True)
    return rows


# --- Report ------------------------------------------------------------------------------------


def machine() -> dict:
    memory_kb = 0
    with open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    cpu = platform.processor()
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    import psycopg

    with psycopg.connect(f"{PG_URL}/postgres") as conn:
        pg_version = conn.execute("SHOW server_version").fetchone()[0]
        shared_buffers = conn.execute("SHOW shared_buffers").fetchone()[0]
    return {"cores": os.cpu_count(), "memory_gib": round(memory_kb / 1024**2, 1), "cpu": cpu,
            "python": platform.python_version(), "postgresql": pg_version,
            "postgresql_shared_buffers": shared_buffers, "os": platform.platform()}


def table(rows: list[dict]) -> str:
    header = (f"{'size':4} {'endpoint':24} {'users':>5} {'p50 ms':>8} {'p95 ms':>8} "
              f"{'p99 ms':>8} {'req/s':>7} {'errors':>6} {'client CPU':>10} {'machine CPU':>11}")
    lines = [header, "-" * len(header)]
    for r in rows:
        if "skipped" in r:
            lines.append(f"{r['size']:4} {r['endpoint']:24} {'':>5} skipped ({r['skipped']})")
            continue
        lines.append(
            f"{r['size']:4} {r['endpoint']:24} {r['users']:>5} {r['p50_ms']:>8} {r['p95_ms']:>8} "
            f"{r['p99_ms']:>8} {r['rps']:>7} {sum(r['errors'].values()):>6} "
            f"{r['client_cpu_pct']:>9}% {r['machine_cpu_pct']:>10}%"
        )
    return "\n".join(lines)


def markdown(rows: list[dict], users: int | None = None) -> str:
    """The table as Markdown (all concurrencies, or one), for the README and docs."""
    lines = ["| size | endpoint | users | p50 ms | p95 ms | p99 ms | req/s | errors | client CPU |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "skipped" in r or (users is not None and r["users"] != users):
            continue
        lines.append(f"| {r['size']} | {r['endpoint']} | {r['users']} | {r['p50_ms']} | "
                     f"{r['p95_ms']} | {r['p99_ms']} | {r['rps']} | "
                     f"{sum(r['errors'].values())} | {r['client_cpu_pct']}% |")
    return "\n".join(lines)


def growth(rows: list[dict], small: str, large: str, users: int = 10) -> list[dict]:
    """p95 at the large size over p95 at the small one, per endpoint (goal: at most 1.5)."""
    by = {(r["size"], r["endpoint"], r.get("users")): r for r in rows if "skipped" not in r}
    out = []
    for name, *_ in ENDPOINTS:
        a, b = by.get((small, name, users)), by.get((large, name, users))
        if a and b and a["p95_ms"]:
            out.append({"endpoint": name, "users": users, "small": small, "large": large,
                        "p95_ratio": round(b["p95_ms"] / a["p95_ms"], 2)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="S,L", help="comma-separated, of " + ", ".join(SIZES))
    parser.add_argument("--users", default="1,10,50", help="concurrencies (default 1,10,50)")
    parser.add_argument("--duration", type=float, default=8.0,
                        help="seconds per endpoint and concurrency (default 8)")
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1,
                        help="gunicorn workers (default 2 x cores + 1)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: size XS, 1 and 10 users, 2 s each")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks/results/load.json")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.users, args.duration = "XS", "1,10", 2.0
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        parser.error(f"unknown size {unknown}; known: {', '.join(SIZES)}")
    concurrencies = [int(u) for u in args.users.split(",")]
    if not all(1 <= u <= 200 for u in concurrencies) or not 0.5 <= args.duration <= 120:
        parser.error("users must be 1-200 and --duration 0.5-120 s")

    started = time.time()
    all_rows, seeding = [], {}
    info = machine()
    print(f"machine: {info['cores']} cores, {info['memory_gib']} GiB, {info['cpu']}; "
          f"PostgreSQL {info['postgresql']}; gunicorn {args.workers} sync workers", flush=True)
    with tempfile.TemporaryDirectory(prefix="mlgov-bench-") as tmp:
        env = server_env(Path(tmp))
        manage(env, "collectstatic", "--noinput")
        for size in sizes:
            print(f"\n== size {size}: {SIZES[size]}", flush=True)
            recreate_database()
            t0 = time.perf_counter()
            manage(env, "migrate", "--noinput")
            t1 = time.perf_counter()
            options = [f"--{k.replace('_', '-')}={v}" for k, v in SIZES[size].items()]
            output = manage(env, "seed_scale", f"--prefix={PREFIX}", f"--password={PASSWORD}",
                            "--seed=1", *options)
            t2 = time.perf_counter()
            seeding[size] = {"migrate_s": round(t1 - t0, 1), "seed_s": round(t2 - t1, 1),
                             "rows": SIZES[size]}
            print(output.rstrip(), flush=True)
            background = idle_load()
            seeding[size]["background_cpu_pct"] = background
            if background > 20:
                print(f"  warning: the machine is {background}% busy before the test starts "
                      "(other processes): figures will be pessimistic", flush=True)
            server = start_gunicorn(env, args.port, args.workers)
            try:
                creds = asyncio.run(log_in(args.port))
                all_rows += asyncio.run(
                    bench_size(args.port, creds, concurrencies, args.duration, size))
            finally:
                stop_gunicorn(server)
    result = {
        "command": "benchmarks/load.py " + " ".join(sys.argv[1:]),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "wall_seconds": round(time.time() - started),
        "machine": info, "gunicorn_workers": args.workers, "duration_per_cell_s": args.duration,
        "sizes": seeding, "results": all_rows,
        "growth": growth(all_rows, sizes[0], sizes[-1]) if len(sizes) > 1 else [],
        "endpoints": [asdict_endpoint(e) for e in ENDPOINTS],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print("\n" + table(all_rows))
    for g in result["growth"]:
        print(f"growth {g['small']}->{g['large']} at {g['users']} users: {g['endpoint']:24} "
              f"p95 x{g['p95_ratio']}")
    args.output.with_suffix(".md").write_text(markdown(all_rows) + "\n")
    print(f"\nwrote {args.output} and .md ({result['wall_seconds']} s)")


def asdict_endpoint(endpoint) -> dict:
    name, method, path, who = endpoint
    return {"name": name, "method": method, "path": path, "as": who}


if __name__ == "__main__":
    main()
