"""celery_app.py - the Celery application of bench/compare: the tasks the
comparison runs (add, xsum, the word-count map) on a Redis broker and
result backend whose URL is in $CMP_REDIS_URL. Imported by the worker
(`python3 -m celery -A celery_app worker`) and by celery_driver.py.
Pickle is the serializer because the word-count chunks are bytes.
Depends on python3-celery and python3-redis (Debian) and wordcount_py.py.
"""
import os

from celery import Celery

from wordcount_py import count_bytes

URL = os.environ.get("CMP_REDIS_URL", "redis://127.0.0.1:6379/0")

app = Celery("floret_compare", broker=URL, backend=URL)
app.conf.update(
    task_serializer="pickle",
    result_serializer="pickle",
    accept_content=["pickle"],
    result_accept_content=["pickle"],
    result_expires=600,
    broker_connection_retry_on_startup=True,
)


@app.task
def add(x, y):
    return x + y


@app.task
def xsum(xs):
    return sum(xs)


@app.task
def wc_chunk(data):
    return dict(count_bytes(data))
