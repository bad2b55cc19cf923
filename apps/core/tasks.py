"""Infrastructure tasks."""

import socket

from celery import shared_task


@shared_task(name="core.ping")
def ping_task(payload: str) -> dict:
    """Echo a payload with the worker's host name: proves a real worker consumed from the broker."""
    return {"echo": payload, "worker": socket.gethostname()}
