"""Page benchmark: requests per second for a sale page beside the same server's bare "hello".

Seeds a sale with five products on a fresh PostgreSQL database, starts gunicorn the way the
README serves production (`--workers 2 --no-control-socket`, sync workers) with bench/wsgi.py,
then loads each URL for a few seconds at a time, alternating, with a Python load generator:
`--clients` threads, each sending one request per connection (sync workers close every
connection anyway). The generator runs on the same cores as the server and the database, so the
absolute figures are low; the ratio measured in one run is the figure to compare.

    python -m bench.pages [--clients 32] [--seconds 3] [--rounds 3]

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.common import bench_app, fresh_database, seed_sale
from farmstore.extensions import db
from farmstore.timeutil import utcnow

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def get(port: int, path: str) -> tuple[int, bytes]:
    """One GET on a new connection: the status and the body."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request("GET", path, headers={"Accept-Language": "ko"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def start_gunicorn(database_url: str, port: int) -> subprocess.Popen:
    """gunicorn with two sync workers on the benchmark database, answering on `port`."""
    env = {
        **os.environ,
        "FARMSTORE_ENV": "production",
        "DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_hex(16),
        "BASE_URL": f"http://{HOST}:{port}",
    }
    command = [
        *(sys.executable, "-m", "gunicorn", "--workers", "2", "--no-control-socket", "--log-level", "warning"),
        *("--bind", f"{HOST}:{port}", "bench.wsgi:app"),
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: S603 (our own command line)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            if get(port, "/bench/hello")[0] == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not answer within 30 s")


def load(port: int, path: str, *, clients: int, seconds: float) -> tuple[float, int]:
    """`clients` threads GET `path` for `seconds`: successful requests per second, and failures."""
    deadline = time.perf_counter() + seconds
    done, failed = [0] * clients, [0] * clients

    def client(n: int) -> None:
        while time.perf_counter() < deadline:
            try:
                ok = get(port, path)[0] == 200
            except OSError:
                ok = False
            if ok:
                done[n] += 1
            else:
                failed[n] += 1

    began = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - began), sum(failed)


def main() -> int:
    """Seed, serve, measure both URLs in alternation, print the medians and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32, help="concurrent connections")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each URL, alternating")
    args = parser.parse_args()

    with fresh_database() as url:
        app = bench_app(url)
        with app.app_context():
            sale_id, _buyers = seed_sale(now=utcnow(), items=5, quantity=40, per_buyer_limit=2, buyers=0)
            db.engine.dispose()
        port = free_port()
        server = start_gunicorn(url, port)
        try:
            paths = {"hello": "/bench/hello", "sale page": f"/sales/{sale_id}"}
            status, body = get(port, paths["sale page"])
            if status != 200 or "토요일 망원시장 김장 배추".encode() not in body:
                raise SystemExit(f"the sale page answered {status} without the sale on it")
            for path in paths.values():
                load(port, path, clients=args.clients, seconds=1)  # warm-up: workers, caches, connections
            rates: dict[str, list[float]] = {name: [] for name in paths}
            failures = 0
            for _ in range(args.rounds):
                for name, path in paths.items():
                    rate, failed = load(port, path, clients=args.clients, seconds=args.seconds)
                    rates[name].append(rate)
                    failures += failed
        finally:
            server.terminate()
            server.wait(timeout=30)

    hello, page = (statistics.median(rates[name]) for name in paths)
    print(f"\npages, gunicorn --workers 2 (sync), {args.clients} clients, PostgreSQL, medians of {args.rounds} runs")
    for name, path in paths.items():
        runs = ", ".join(f"{rate:.0f}" for rate in rates[name])
        print(f"  {name:<9} GET {path:<14} {statistics.median(rates[name]):6.0f} req/s  (runs: {runs})")
    print(f"  ratio     sale page / hello  {page / hello:.2f}")
    print(f"  ({len(body) // 1024} KB sale page, {failures} failed requests)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
