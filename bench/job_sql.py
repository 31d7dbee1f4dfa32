"""Every SQL statement one generation job runs in the worker, in order, with the time each took.

Submits jobs through the REST API (in-process APIClient) against a fresh emulator with no latency, then runs each
job's `job_run` in this process (as the worker's task would) while Django records the statements. The first
job warms caches (as a long-running worker's first job does); the report is of the last one.

    .venv/bin/python bench/job_sql.py [--jobs 3] [--size 1024x1024] [--quality low] [--format jpeg] [--quiet]

Prints the statements (truncated) and the count by kind; `--quiet` prints only the counts; `--smoke` (2 jobs, the
counts only) is what the test suite runs.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from unittest import mock

from jobs import bench_tenant_token, generation_body, make_submitter
from stack import Stack, run_main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=3)
    parser.add_argument("--size", default="1024x1024")
    parser.add_argument("--quality", default="low")
    parser.add_argument("--format", dest="output_format", default="jpeg")
    parser.add_argument("--quiet", action="store_true", help="print only the counts")
    parser.add_argument("--api", default="client")
    parser.add_argument("--web-workers", type=int, default=1)
    parser.add_argument("--smoke", action="store_true", help="2 jobs, the counts only")
    args = parser.parse_args()
    if args.smoke:
        args.jobs, args.quiet = 2, True
    return args


def statement_kind(sql: str) -> str:
    words = sql.split()
    head = words[0].upper() if words else "?"
    if head in ("SAVEPOINT", "RELEASE", "ROLLBACK"):
        return "SAVEPOINT/RELEASE"
    return head


def main() -> int:
    args = parse_args()
    with Stack("job_sql") as stack:
        stack.prepare_data_stores()
        emulator = stack.start_emulator(render="plain")
        os.environ.update(emulator.foundry_env(rpm=1_000_000, tpm=10**12))
        stack.setup_django()

        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from generation.services.execution import job_run

        token = bench_tenant_token()
        submitter = make_submitter(stack, args, token=token)
        body = {"size": args.size, "quality": args.quality, "output_format": args.output_format}
        for index in range(args.jobs):
            with mock.patch("generation.tasks.run_job.delay"), mock.patch("generation.tasks.run_job.apply_async"):
                job_id = submitter.submit(generation_body(index, label="sql", **body)).job_id
            connection.close()
            started = time.perf_counter()
            with CaptureQueriesContext(connection) as captured:
                job_run(job_id=job_id, owner=f"sql-{index}")
            elapsed = time.perf_counter() - started

        from generation.models import Job

        job = Job.unscoped.get(pk=job_id)
        queries = captured.captured_queries
        kinds = Counter(statement_kind(q["sql"]) for q in queries)
        if not args.quiet:
            for number, query in enumerate(queries, 1):
                print(f"{number:3d} {float(query['time']) * 1000:6.2f} ms  {query['sql'][:220]}")
        print(f"\njob {job_id}: state {job.state}; {len(queries)} statements in {elapsed * 1000:.0f} ms (job_run)")
        print("   by kind: " + ", ".join(f"{kind} {n}" for kind, n in kinds.most_common()))
    return 0


if __name__ == "__main__":
    run_main(main)
