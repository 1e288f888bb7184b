"""The benchmark's own PostgreSQL database: dropped, created and migrated before each size."""

import psycopg
from django.core.management import call_command
from django.db import connection, connections
from psycopg import sql


class BenchmarkDatabaseError(RuntimeError):
    """The configured database is not one the benchmark may drop and create."""


def bench_database_name() -> str:
    """Return the configured database's name once it is sure to be a PostgreSQL database
    meant for the benchmark (its name contains "bench"): the benchmark drops it."""
    db = connection.settings_dict
    if "postgresql" not in db["ENGINE"]:
        raise BenchmarkDatabaseError(
            "The benchmark runs on PostgreSQL: set DATABASE_URL to BENCH_DATABASE_URL "
            "(make bench does), e.g. postgres://postgres@127.0.0.1:5432/feedlens_bench."
        )
    if "bench" not in db["NAME"]:
        raise BenchmarkDatabaseError(
            f"Refusing to drop the database {db['NAME']!r}: the benchmark's database must "
            "have 'bench' in its name."
        )
    return str(db["NAME"])


def reset_database() -> None:
    """Drop and create the benchmark database, then migrate it."""
    name = bench_database_name()
    connections.close_all()
    with _maintenance_connection() as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    call_command("migrate", interactive=False, verbosity=0)


def refresh_statistics() -> None:
    """Give the planner statistics of the rows just stored, as autovacuum does about a minute
    after a bulk load. Timed before that, the pages ran on estimates of an empty database:
    nested loops over 95,000 rows and a 1.3 s overview at 100,000 items instead of 0.5 s."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def drop_database() -> None:
    """Drop the benchmark database (after the run, unless it is kept)."""
    name = bench_database_name()
    connections.close_all()
    with _maintenance_connection() as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _maintenance_connection() -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        dbname="postgres",
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        autocommit=True,
    )
