"""A real Celery worker process for the benchmark, on a queue of its own that every task
(the model work included) is routed to, and its peak memory."""

import functools
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from feedlens.celery import app as celery_app

WORKER_START_TIMEOUT_S = 120


class WorkerError(RuntimeError):
    """The worker exited or did not answer; the message ends with its log."""


@dataclass
class BenchWorker:
    queue: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def check_alive(self) -> None:
        """Raise WorkerError if the worker process has exited."""
        if self.process.poll() is not None:
            raise WorkerError(f"The Celery worker exited:\n{log_tail(self.log_path)}")

    def peak_memory_bytes(self) -> int | None:
        """Return the worker's peak resident memory (VmHWM), None where /proc lacks it."""
        return peak_memory_bytes(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)


def log_tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


def peak_memory_bytes(pid: int) -> int | None:
    """Return VmHWM of a Linux process in bytes, or None where it cannot be read."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024  # reported in kB
    return None


def route_tasks_to(queue: str) -> None:
    """Send this process's tasks, the model work included, to queue."""
    celery_app.conf.task_default_queue = queue
    celery_app.conf.task_routes = {"insights.*": {"queue": queue}}


@functools.cache
def bench_queue() -> str:
    """Return this process's benchmark queue, routing every task to it on the first call.
    One queue per process, for every size's worker in turn: Celery caches its router on
    first use, so a route set later (a new queue per size) would not apply."""
    queue = f"feedlens-bench-{uuid.uuid4().hex[:8]}"
    route_tasks_to(queue)
    return queue


def start_worker(log_path: Path, name: str = "localhost", cpu: int | None = None) -> BenchWorker:
    """Start a solo-pool worker on the benchmark queue (default and ML queue both), named
    name@queue and, if cpu is given, held to that one core (its models then use one thread:
    llm.cores reads the affinity); return it once it answers a ping."""
    queue = bench_queue()
    name = f"{name}@{queue}"
    env = {
        **os.environ,
        "DATABASE_URL": settings.DATABASE_URL,
        "CELERY_DEFAULT_QUEUE": queue,
        "CELERY_ML_QUEUE": queue,
        "SECRET_KEY": settings.SECRET_KEY,
        "FEEDLENS_EAGER_TASKS": "false",
    }
    command = [sys.executable, "-m", "celery", "-A", "feedlens", "worker", "--pool=solo"]
    if cpu is not None:
        command = ["taskset", "--cpu-list", str(cpu), *command]
    command += ["-Q", queue, "-n", name, "--loglevel=INFO", "--without-gossip", "--without-mingle"]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR
        )
    worker = BenchWorker(queue, process, log_path)
    _wait_until_answering(worker, name)
    return worker


def _wait_until_answering(worker: BenchWorker, name: str) -> None:
    deadline = time.monotonic() + WORKER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        worker.check_alive()
        if celery_app.control.ping(destination=[name], timeout=1):
            return
    worker.stop()
    raise WorkerError(f"The Celery worker did not answer in time:\n{log_tail(worker.log_path)}")
