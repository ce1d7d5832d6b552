"""Starting and stopping the real servers some tests talk to (the app, `chroma run`, a model server)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, log: Path | None, timeout: float = 120) -> None:
    """Wait until `url` answers; fail with the process's log if it exits or never answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{proc.args[:3]} exited with {proc.returncode}:\n{log.read_text() if log else ''}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.25)
    proc.kill()
    pytest.fail(f"nothing answered at {url}:\n{log.read_text() if log else ''}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------- real servers for shared mode

CHROMA = Path(sys.executable).parent / "chroma"
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None) \
    if Path("/usr/lib/postgresql").exists() else None


def wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    proc.kill()
    pytest.fail(f"{what} did not start within {timeout:.0f} s")


@contextmanager
def chroma_server(folder: Path):
    """`chroma run` on a free loopback port; yields its URL."""
    command = str(CHROMA) if CHROMA.exists() else shutil.which("chroma")
    if not command:
        pytest.skip("the chroma command is not installed (it comes with chromadb)")
    port = free_port()
    proc = subprocess.Popen([command, "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    CHROMA_SERVERS[url] = proc
    try:
        wait_port(port, proc, "chroma run")
        yield url
    finally:
        stop(proc)
        CHROMA_SERVERS.pop(url)


CHROMA_SERVERS: dict[str, subprocess.Popen] = {}  # each running `chroma run`, by its URL


def stop_chroma(url: str) -> None:
    """Stop a server `chroma_server` started, as a crash would."""
    CHROMA_SERVERS[url].kill()
    CHROMA_SERVERS[url].wait()


STOP_POSTGRES: dict[str, list[str]] = {}  # the command that stops each running server, by its URL


def stop_postgres(url: str) -> None:
    """Stop a server `postgres_server` started, as an outage would (its connections are ended)."""
    subprocess.run(STOP_POSTGRES[url], check=True, capture_output=True)


@contextmanager
def postgres_server(folder: Path):
    """A PostgreSQL server (Debian's `postgresql` package) in `folder` on a free loopback port, run as the
    `postgres` user when the tests run as root (initdb refuses root); yields an SQLAlchemy URL."""
    if PG_BIN is None or not (PG_BIN / "initdb").exists():
        pytest.skip("PostgreSQL is not installed (Debian package postgresql; `make postgres`)")
    as_user: list[str] = []
    if os.geteuid() == 0:  # a folder the postgres user can reach (pytest's own are private to root)
        as_user = ["runuser", "-u", "postgres", "--"]
        folder = Path(tempfile.mkdtemp(prefix="rag-pg-"))
        os.chmod(folder, 0o755)
        shutil.chown(folder, "postgres")
    folder.mkdir(parents=True, exist_ok=True)
    data, port = folder / "data", free_port()
    subprocess.run(as_user + [str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "rag", "--no-sync"],
                   check=True, capture_output=True)
    subprocess.run(as_user + [str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "start",
                              "-o", f"-p {port} -k {folder} -h 127.0.0.1 -c fsync=off"],
                   check=True, capture_output=True)
    url = f"postgresql+psycopg://rag@127.0.0.1:{port}/postgres"
    STOP_POSTGRES[url] = as_user + [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]
    try:
        yield url
    finally:
        STOP_POSTGRES.pop(url, None)
        subprocess.run(as_user + [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        if as_user:
            shutil.rmtree(folder, ignore_errors=True)
