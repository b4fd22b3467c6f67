"""Writing generated rows fast, shared by the bench data generators: ``executemany`` in
chunks on a raw sqlite3 connection, ``COPY ... FROM STDIN`` on PostgreSQL (psycopg 3)."""

from __future__ import annotations


def chunks(it, size: int):
    buf = []
    for row in it:
        buf.append(row)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf


def bulk_insert(
    raw, dialect: str, table: str, cols: tuple, rows, *, chunk: int, log_every: int, log
) -> int:
    """Insert ``rows`` (tuples in ``cols`` order) into ``table``; returns how many."""
    n = 0
    cur = raw.cursor()
    if dialect == "sqlite":
        sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        for part in chunks(rows, chunk):
            cur.executemany(sql, part)
            n += len(part)
            if n % log_every < chunk:
                log(f"  {table}: {n:,}")
        raw.commit()
    else:
        with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
            for row in rows:
                cp.write_row(row)
                n += 1
                if n % log_every == 0:
                    log(f"  {table}: {n:,}")
        raw.commit()
    cur.close()
    return n


def fresh_database(db: str, sqlite_file, pg_base: str, pg_schema: str) -> None:
    """Start from nothing: remove the SQLite file (and its WAL), or recreate the schema."""
    from pathlib import Path

    if db == "sqlite":
        Path(sqlite_file).parent.mkdir(exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(str(sqlite_file) + suffix).unlink(missing_ok=True)
        return
    from sqlalchemy import create_engine

    admin = create_engine(pg_base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{pg_schema}" CASCADE')
        conn.exec_driver_sql(f'CREATE SCHEMA "{pg_schema}"')
    admin.dispose()
