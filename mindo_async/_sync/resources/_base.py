# GENERATED from mindo_async/resources/_base.py by scripts/unasync.py:
# do not edit by hand; edit the async file and run `python scripts/unasync.py`.
"""What every resource shares: the client's requester, reached through two calls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mindo_async._endpoints import Endpoint
from mindo_async._sync._requester import QueryValue, Requester


class SyncAPIResource:
    """A group of endpoints of one API area, bound to a client's requester."""

    def __init__(self, requester: Requester) -> None:
        self._requester = requester

    def _get(
        self,
        endpoint: Endpoint,
        *,
        path_params: Mapping[str, str] | None = None,
        params: Mapping[str, QueryValue] | None = None,
        url: str | None = None,
    ) -> Any:
        """GET ``endpoint`` (or ``url``, a link on the base URL's origin) with the read
        retry rules; the decoded JSON of the 2xx answer, or the mapped ``APIError``."""
        return self._requester.get_json(endpoint, path_params=path_params, params=params, url=url)

    def _post(self, endpoint: Endpoint, *, body: bytes, request: object) -> Any:
        """POST ``body`` to a non-idempotent ``endpoint`` (never retried once it may have
        been processed); the decoded JSON of the 2xx answer."""
        return self._requester.post_json(endpoint, body=body, request=request)
