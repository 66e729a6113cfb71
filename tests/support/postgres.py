"""A throwaway PostgreSQL server on a loopback port, for a PostgreSQL-backed Prefect server.

Uses Debian's ``postgresql`` package binaries. initdb refuses to run as root,
so as root the cluster is created and run as the ``postgres`` user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from deploytasks.env.local_server import free_port


def postgres_bin() -> Path | None:
    """The folder of Debian's PostgreSQL server binaries, if installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str]) -> None:
    done = subprocess.run(_as_postgres(command), capture_output=True, text=True, timeout=120,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:2])} failed: {done.stderr.strip()[-500:]}")


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a fresh cluster; yield an asyncpg URL for a database named ``prefect``."""
    binaries = postgres_bin()
    if binaries is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="deploytasks-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
    data, port = folder / "data", free_port()
    try:
        _run([str(binaries / "initdb"), "-D", str(data), "-U", "prefect", "--auth=trust",
              "-E", "UTF8"])
        _run([str(binaries / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w",
              "-o", f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 "
                    "-c max_connections=200 -c fsync=off", "start"])
        _run([str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "prefect",
              "prefect"])
        yield f"postgresql+asyncpg://prefect@127.0.0.1:{port}/prefect"
    finally:
        subprocess.run(_as_postgres([str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast",
                                     "stop"]), capture_output=True, timeout=60, check=False)
        shutil.rmtree(folder, ignore_errors=True)
