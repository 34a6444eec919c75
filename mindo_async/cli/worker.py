"""``mindo worker --redis URL``: run the Taskiq workers of ``mindo_async.queue``."""

from __future__ import annotations

from typing import Annotated

import typer

from ._common import EXIT_USAGE, consoles

app = typer.Typer()


@app.command()
def worker(
    redis_url: Annotated[
        str,
        typer.Option("--redis", metavar="URL", help="The queue's Redis (redis://host:port/db)."),
    ],
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    rate: Annotated[
        float,
        typer.Option(min=0.1, help="Shared sends per second per phone number, all workers."),
    ] = 80.0,
    namespace: Annotated[str, typer.Option(help="Prefix of the queue's Redis keys.")] = "mindo",
    max_async_tasks: Annotated[
        int, typer.Option(min=1, max=10_000, help="Jobs in progress per worker process.")
    ] = 64,
) -> None:
    """Run queue workers: send the jobs of mindo_async.queue (needs the 'queue' extra).

    Each worker process builds one client from $MINDO_API_KEY and $MINDO_BASE_URL,
    with the Redis rate limiter and journal shared by every worker.
    """
    try:
        from ..queue import run_worker
    except ModuleNotFoundError as exc:
        _, err_console = consoles()
        err_console.print(
            f"mindo worker needs the 'queue' extra ({exc.name} is not installed): "
            'pip install "mindo-async[queue]"'
        )
        raise typer.Exit(EXIT_USAGE) from None
    raise typer.Exit(
        run_worker(
            redis_url,
            workers=workers,
            max_async_tasks=max_async_tasks,
            rate=rate,
            namespace=namespace,
        )
        or 0
    )
