"""Enqueues one RQ job per offset with rq's own Queue.enqueue (see ../harness.ts).

argv: redis_url queue job_id_prefix truth_key service_ms offsets_json
"""
import json
import sys
import time

from redis import Redis
from rq import Queue


def main():
    url, queue_name, id_prefix, truth_key, service_ms, offsets = sys.argv[1:7]
    queue = Queue(queue_name, connection=Redis.from_url(url))
    start = time.monotonic()
    for index, offset in enumerate(json.loads(offsets)):
        delay = start + offset / 1000 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        enqueued_at = time.time() * 1000
        queue.enqueue("jobs.record", truth_key, enqueued_at, int(service_ms),
                      job_id=f"{id_prefix}{index}")
    print(f"enqueued {index + 1}", flush=True)


if __name__ == "__main__":
    main()
