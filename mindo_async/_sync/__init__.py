"""The sync client, ``Mindo``: its I/O code is generated from the async code.

``_requester.py``, ``_pacing.py``, ``_ratelimit.py``, ``_pagination.py`` and
``resources/`` (the bulk sends included) here are written by
``scripts/unasync.py`` from their async originals (never by hand; a test fails
when they are stale). ``_client.py`` and ``_concurrency.py`` (the sync twins of
anyio's primitives and of ``mindo_async/_concurrency.py``) are hand-written and
hold no logic of their own: options, validation, the protocol, the retry policy
and the errors are the async client's own modules.
"""
