"""A real Celery 5 app on kombu's Redis transport, for qscale's accuracy harness.

Configured from the environment so every test run has its own keys:
QSCALE_BROKER (redis://host:port/db), QSCALE_PREFIX (kombu's global_keyprefix),
QSCALE_QUEUE, QSCALE_ACKS_LATE ("1" or "0").
The task records its own truth: {"id", "enqueuedAt", "startedAt", "finishedAt"} (epoch ms)
RPUSHed to the truth key it is given, so the harness compares the reader with what happened.
"""
import json
import os
import time

import redis
from celery import Celery

BROKER = os.environ["QSCALE_BROKER"]
PREFIX = os.environ.get("QSCALE_PREFIX", "")
QUEUE = os.environ.get("QSCALE_QUEUE", "celery")

app = Celery("qscale_celery_app", broker=BROKER)
app.conf.update(
    broker_transport_options={"global_keyprefix": PREFIX} if PREFIX else {},
    task_default_queue=QUEUE,
    task_acks_late=os.environ.get("QSCALE_ACKS_LATE", "0") == "1",
    worker_prefetch_multiplier=1,
    task_serializer="json",
    accept_content=["json"],
    result_backend=None,
    task_ignore_result=True,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)

_truth = redis.Redis.from_url(BROKER)


@app.task(name="qscale.work", ignore_result=True)
def work(job_id, enqueued_at, truth_key, service_ms, fail=False):
    started_at = time.time() * 1000
    time.sleep(service_ms / 1000)
    finished_at = time.time() * 1000
    _truth.rpush(
        truth_key,
        json.dumps(
            {
                "id": job_id,
                "enqueuedAt": enqueued_at,
                "startedAt": started_at,
                "finishedAt": finished_at,
            }
        ),
    )
    if fail:
        raise RuntimeError("qscale: this job fails on purpose")
