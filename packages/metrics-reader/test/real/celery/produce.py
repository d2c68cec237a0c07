"""Publishes one `qscale.work` task per line of JSON read from stdin, with Celery's own
client (apply_async), at the time each line asks for.

Input lines: {"offsetMs": n, "id": "...", "countdownS": s, "serviceMs": n, "fail": bool}
(all but offsetMs and id optional; serviceMs overrides the argument for that job); offsets
count from the moment the producer prints "ready". Arguments: truth_key service_ms.
Each enqueue prints "sent <id> <enqueuedAt>" so the caller can follow.
"""
import json
import sys
import time

from qscale_celery_app import work

truth_key, service_ms = sys.argv[1], float(sys.argv[2])
jobs = [json.loads(line) for line in sys.stdin if line.strip()]
# Opens the broker connection before the clock starts.
with work.app.connection_for_write() as connection:
    connection.ensure_connection(max_retries=3)
    producer = work.app.amqp.Producer(connection)
    print("ready", flush=True)
    start = time.monotonic()
    for job in jobs:
        delay = start + job["offsetMs"] / 1000 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        enqueued_at = time.time() * 1000
        options = {"producer": producer}
        if job.get("countdownS"):
            options["countdown"] = job["countdownS"]
        work.apply_async(
            args=(
                job["id"],
                enqueued_at,
                truth_key,
                job.get("serviceMs", service_ms),
                bool(job.get("fail")),
            ),
            **options,
        )
        print(f"sent {job['id']} {enqueued_at}", flush=True)
print("done", flush=True)
