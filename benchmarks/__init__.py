"""Benchmarks of mindo_async against raw httpx, raw aiohttp and the server's ceiling (issue 6).

Run ``nox -s bench`` or ``python -m benchmarks --help`` from the repository root.
"""
