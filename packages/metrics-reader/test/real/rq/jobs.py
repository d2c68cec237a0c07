"""The job the RQ accuracy test runs: sleeps, then records its own truth (see ../harness.ts)."""
import json
import time

from rq import get_current_job


def record(truth_key, enqueued_at, service_ms):
    started_at = time.time() * 1000
    time.sleep(service_ms / 1000)
    finished_at = time.time() * 1000
    job = get_current_job()
    job.connection.rpush(truth_key, json.dumps({
        "id": job.id,
        "enqueuedAt": enqueued_at,
        "startedAt": started_at,
        "finishedAt": finished_at,
    }))
