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
