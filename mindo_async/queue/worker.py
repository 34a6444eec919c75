"""The Taskiq entry point of the workers: ``taskiq worker mindo_async.queue.worker:broker``.

Configured by the environment: ``$MINDO_REDIS_URL``, ``$MINDO_API_KEY``,
``$MINDO_BASE_URL``, ``$MINDO_RATE_LIMIT`` (see ``SendQueue.from_env``).
"""

from __future__ import annotations

from . import SendQueue

queue = SendQueue.from_env()
broker = queue.broker

__all__ = ["broker", "queue"]
