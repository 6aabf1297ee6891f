"""PostgreSQL: the Iceberg catalog's database and the schema registry's storage.

Runs the Debian server binary directly (not pg_ctl) so the driver owns the postmaster's pid.
As root it runs as the `postgres` OS user, since the server refuses to run as root. Only TCP on
127.0.0.1 with password (scram) authentication; no unix socket, so no path-length limits.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess

import psycopg2

from harness.stack.service import NotReady, ServiceSpec, StackContext

NAME = "postgres"
DATABASES = ("registry", "catalog")


def run_as() -> str | None:
    return "postgres" if os.geteuid() == 0 else None


def dsn(ctx: StackContext, database: str = "postgres") -> str:
    c = ctx.credentials
    return f"postgresql://{c.postgres_user}:{c.postgres_password}@{ctx.host}:{ctx.port(NAME)}/{database}"


def _chown(path: os.PathLike[str] | str, user: str | None) -> None:
    if user is None:
        return
    pw = pwd.getpwnam(user)
    os.chown(path, pw.pw_uid, pw.pw_gid)


def prepare(ctx: StackContext) -> None:
    data = ctx.data_dir(NAME)
    if (data / "PG_VERSION").exists():
        return
    user = run_as()
    if data.exists():
        shutil.rmtree(data)  # a half-made cluster from an interrupted initdb
    data.mkdir(parents=True)
    _chown(data, user)
    run = ctx.run_dir(NAME)
    run.mkdir(parents=True, exist_ok=True)
    _chown(run, user)
    pwfile = run / "pwfile"
    pwfile.write_text(ctx.credentials.postgres_password + "\n")
    os.chmod(pwfile, 0o600)
    _chown(pwfile, user)
    try:
        proc = subprocess.run(
            [
                str(ctx.components.postgres_bin / "initdb"),
                "-D",
                str(data),
                "-U",
                ctx.credentials.postgres_user,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            capture_output=True,
            text=True,
            user=user,
            cwd=run,
            timeout=120,
        )
    finally:
        pwfile.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise RuntimeError(f"initdb failed ({proc.returncode}): {proc.stderr.strip()[-800:]}")


def command(ctx: StackContext) -> list[str]:
    return [
        str(ctx.components.postgres_bin / "postgres"),
        "-D",
        str(ctx.data_dir(NAME)),
        "-p",
        str(ctx.port(NAME)),
        "-c",
        f"listen_addresses={ctx.host}",
        "-c",
        "unix_socket_directories=",
        "-c",
        "max_connections=200",
        "-c",
        "shared_buffers=64MB",
        "-c",
        "fsync=on",
    ]


def ready(ctx: StackContext) -> str:
    try:
        with psycopg2.connect(dsn(ctx), connect_timeout=2) as conn, conn.cursor() as cur:
            cur.execute("select 1")
            (one,) = cur.fetchone()
    except psycopg2.OperationalError as exc:
        raise NotReady(str(exc).strip().splitlines()[0]) from None
    if one != 1:
        raise NotReady(f"select 1 returned {one!r}")
    return "select 1 ok"


def initialise(ctx: StackContext) -> None:
    conn = psycopg2.connect(dsn(ctx), connect_timeout=5)
    try:
        conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        with conn.cursor() as cur:
            for db in DATABASES:
                cur.execute("select 1 from pg_database where datname = %s", (db,))
                if cur.fetchone() is None:
                    cur.execute(f'create database "{db}"')
    finally:
        conn.close()


SPEC = ServiceSpec(
    name=NAME,
    memory_budget_mb=192,
    depends_on=(),
    ports=(NAME,),
    command=command,
    ready=ready,
    prepare=prepare,
    initialise=initialise,
    stop_signal=signal.SIGINT,  # "fast" shutdown; SIGTERM would wait for clients to leave
    run_as=run_as(),
    description="PostgreSQL (Iceberg catalog and registry storage)",
)
