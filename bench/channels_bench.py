"""Benchmark: a 10,000-recipient batch mailing (CH-6) through the notification bus to a real
SMTP server (aiosmtpd on 127.0.0.1), measuring the queueing job, the worker's delivery rate
and the process's memory while it runs.

    python bench/channels_bench.py                      # SQLite in a temp dir, 10,000 recipients
    python bench/channels_bench.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test
    python bench/channels_bench.py -n 50000

The audience is a stand-in for the customers filter that *streams* generated recipients
(``bench/channels_bench_audience.py``): the point is the channels side (expand the audience,
queue the outbox rows with their throttle times, deliver through SMTP, count the results), and
whether memory stays flat while 10,000 messages go out. RSS is sampled every 0.1 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class Sampler(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.samples: list[tuple[float, float]] = []
        self.stop = threading.Event()
        self.t0 = time.monotonic()

    def run(self):
        while not self.stop.is_set():
            self.samples.append((time.monotonic() - self.t0, rss_mb()))
            self.stop.wait(0.1)


class Counter:
    def __init__(self):
        self.n = 0
        self.bytes = 0

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        self.bytes += len(envelope.content or b"")
        return "250 OK"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None, help="database URL (default: SQLite in a temp dir)")
    ap.add_argument("-n", type=int, default=10_000)
    ap.add_argument("--rate", type=int, default=100_000, help="mailing rate per minute")
    ap.add_argument("--batch", type=int, default=200, help="worker claim batch")
    ap.add_argument("--workers", type=int, default=1, help="worker threads sharing the outbox")
    args = ap.parse_args()

    import channels_bench_audience as aud
    from aiosmtpd.controller import Controller

    aud.N = args.n
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    counter = Counter()
    ctl = Controller(counter, hostname="127.0.0.1", port=port)
    ctl.start()

    tmp = tempfile.mkdtemp(prefix="crm-channels-bench-")
    url = args.db or f"sqlite:///{tmp}/bench.db"
    schema = None
    if url.startswith("postgresql"):
        from sqlalchemy import create_engine

        schema = f"bench_{uuid.uuid4().hex[:8]}"
        eng = create_engine(url, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"

    from crm_host import modules
    from crm_host.app import create_app
    from crm_host.notify import run_once

    app = create_app(
        {
            "CRM_DATABASE_URL": url,
            "CRM_SECRET_KEY": "bench-" + "x" * 40,
            "CRM_AUTO_MIGRATE": True,
            "CRM_MODULE_POLL_SECONDS": 0.0,
            "CRM_EXTRA_PLUGINS": {"bench_audience": "channels_bench_audience"},
            "CRM_SMTP_HOST": "127.0.0.1",
            "CRM_SMTP_PORT": port,
            "CRM_SMTP_SECURITY": "none",
            "CRM_SMTP_SENDER": "bench@example.test",
            "CRM_PUBLIC_URL": "http://crm.bench",
        },
        instance_path=f"{tmp}/instance",
    )
    crm = app.extensions["crm"]
    with app.app_context():
        crm.ensure_ready()
        modules.enable(app, "channels", with_deps=True, actor="bench")
        modules.enable(app, "bench_audience", with_deps=True, actor="bench")
        from crm_host import people

        with crm.db.session_scope() as s:
            sender = people.create_user(
                s, "sender@example.test", "Sender", "password123", roles=["admin"]
            )
            sender_id = sender.id

    from crm_channels import mailings
    from crm_channels.models import Mailing

    from crm_host.models import User

    sampler = Sampler()
    sampler.start()
    marks = {"start": rss_mb()}
    with app.test_request_context():
        with crm.db.session_scope() as s:
            rt = crm.runtime()
            m = mailings.create(
                s,
                rt,
                s.get(User, sender_id),
                {
                    "name": "Bench",
                    "audience": "bench.generated",
                    "params": {},
                    "subject": "{company}: spring prices for {name}",
                    "body": "Dear {name},\n\nour spring price list is out. Yours, {company}.\n",
                    "rate_per_minute": args.rate,
                },
                send=True,
            )
            mid = m.id
    t0 = time.monotonic()
    with app.app_context():
        with crm.db.session_scope() as s:
            mailings.run_due(s, runtime=crm.runtime())
    t_queue = time.monotonic() - t0
    marks["queued"] = rss_mb()

    t1 = time.monotonic()
    counts = {"sent": 0, "failed": 0}
    lock = threading.Lock()

    def worker(name):
        while True:
            res = run_once(app, batch=args.batch, worker=name)
            with lock:
                counts["sent"] += res["sent"]
                counts["failed"] += res["failed"]
            with crm.db.Session() as s:
                left = mailings.pending_count(s, mid)
            if not left:
                return
            if res["sent"] == 0 and res["failed"] == 0:
                time.sleep(0.05)  # the throttle: the next rows are not due yet

    threads = [threading.Thread(target=worker, args=(f"bench-{i}",)) for i in range(args.workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent, failed = counts["sent"], counts["failed"]
    t_send = time.monotonic() - t1
    marks["delivered"] = rss_mb()
    sampler.stop.set()
    sampler.join()
    with crm.db.Session() as s:
        totals = mailings.totals(s, mid)
        status = s.get(Mailing, mid).status
    ctl.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    during = [r for t, r in sampler.samples if t >= 0]
    print(f"database         {url.split('?')[0].split('://')[0]}")
    print(
        f"recipients       {args.n:,} (rate limit {args.rate:,}/min, claim batch {args.batch}, "
        f"{args.workers} worker thread(s))"
    )
    print(f"queue (job)      {t_queue:.2f} s  ({args.n / t_queue:,.0f} recipients/s)")
    print(
        f"deliver (worker) {t_send:.2f} s  ({sent / t_send:,.0f} messages/s), "
        f"sent {sent:,}, failed {failed}"
    )
    print(f"SMTP received    {counter.n:,} messages, {counter.bytes / 2**20:.1f} MiB")
    print(f"totals           {totals}  mailing status: {status}")
    print("RSS (MiB)        " + ", ".join(f"{k}: {v:.0f}" for k, v in marks.items()))
    print(
        f"RSS samples      min {min(during):.0f}, max {max(during):.0f} over "
        f"{len(during)} samples; peak RSS (getrusage) {peak:.0f} MiB"
    )
    if schema:
        from sqlalchemy import create_engine

        crm.db.dispose()
        eng = create_engine(args.db, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
