"""Real `celery worker` processes for the tests: each a subprocess on the test's database, a test
Redis database as broker and result backend, and the test SMTP server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[2]
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")


def empty_redis(url: str) -> None:
    """Forget every queued task and result in the test Redis database."""
    connection = redis.Redis.from_url(url)
    connection.flushdb()
    connection.close()


class Workers:
    """`count` worker processes, each with `concurrency` threads, logging to files under `log_dir`."""

    def __init__(self, *, database_url: str, redis_url: str, smtp_port: int, log_dir: Path, **environment: str):
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "REDIS_", "SMTP_", "MEDIA_"))},
            "FARMSTORE_ENV": "development",
            "SECRET_KEY": "test-secret",
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": redis_url,
            "CELERY_RESULT_BACKEND": redis_url,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp_port),
            "SMTP_SECURITY": "none",
            "BASE_URL": "http://farmstore.test",
            "DEFAULT_LOCALE": "en",
            **environment,
        }
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def start(self, count: int, *, concurrency: int = 4) -> None:
        for n in range(count):
            log = self.log_dir / f"worker{n}.log"
            self.logs.append(log)
            command = [sys.executable, "-m", "celery", "-A", "farmstore.worker", "worker", "--pool", "threads"]
            command += ["--concurrency", str(concurrency), "--hostname", f"worker{n}@farmstore-test"]
            command += ["--without-gossip", "--without-mingle", "--loglevel", "INFO"]
            output = log.open("w")
            self.processes.append(
                subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=output, stderr=subprocess.STDOUT)
            )

    def wait_ready(self, celery_app, *, timeout: float = 60) -> None:
        """Until every worker answers a ping (so none can take all the work before the others)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for process, log in zip(self.processes, self.logs, strict=True):
                if process.poll() is not None:
                    raise AssertionError(f"worker exited: {log.read_text()[-3000:]}")
            if len(celery_app.control.ping(timeout=0.5)) == len(self.processes):
                return
        raise AssertionError("workers did not come up: " + " | ".join(log.read_text()[-1500:] for log in self.logs))

    def succeeded(self, n: int) -> int:
        """How many tasks worker `n` reports as succeeded in its log."""
        return self.logs[n].read_text().count(" succeeded in ")

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
