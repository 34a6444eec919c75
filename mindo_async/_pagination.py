"""Pages of the list endpoints, and a paginator that follows ``next``.

The API pages its lists as ``{"count", "next", "previous", "results"}``, with
``next`` and ``previous`` as absolute URLs (``null`` at the ends). A
paginator is what ``list(...)`` and ``messages(...)`` return:

- ``paginator.first_page()`` gives the first ``Page`` (so does awaiting an async one);
- ``async for item in paginator`` walks every item of every page;
- ``async for page in paginator.pages()`` walks page by page.

Only one page is held at a time, whatever the total. ``next`` is followed
only when its scheme, host and port are those of the client's ``base_url``:
the request carries the API key, and a URL the server supplied must not send
it anywhere else. A ``next`` elsewhere raises ``InvalidResponseError``
before any request is made (the requester checks every link it is given).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from typing import Any, Generic, TypeVar

from ._errors import InvalidResponseError

__all__ = ["AsyncPaginator", "Page"]

T = TypeVar("T")

#: Fetches one page: ``None`` for the first page (the endpoint with the caller's
#: query), or a link the server gave. The requester (``AsyncAPIResource._get``
#: with ``url=``) refuses a link off ``base_url``'s origin before any request.
FetchPage = Callable[[str | None], Awaitable[Any]]


class Page(Generic[T]):
    """One page of a list: ``count`` items in all, this page's ``results``, and the links."""

    __slots__ = ("_paginator", "count", "next", "previous", "results")

    def __init__(
        self,
        *,
        count: int,
        results: list[T],
        next: str | None,
        previous: str | None,
        paginator: AsyncPaginator[T] | None = None,
    ) -> None:
        #: How many items the whole list holds (every page).
        self.count = count
        #: This page's items.
        self.results = results
        #: The absolute URL of the next page, ``None`` on the last one.
        self.next = next
        #: The absolute URL of the previous page, ``None`` on the first one.
        self.previous = previous
        self._paginator = paginator

    @property
    def has_next(self) -> bool:
        """Whether there is a page after this one."""
        return self.next is not None

    async def next_page(self) -> Page[T] | None:
        """The next page, or ``None`` on the last one.

        Raises ``InvalidResponseError``, without a request, when ``next``
        is not on the client's ``base_url``.
        """
        if self.next is None:
            return None
        if self._paginator is None:
            raise RuntimeError("this page was not fetched by a paginator")
        return await self._paginator._fetch_url(self.next)

    def __iter__(self) -> Iterator[T]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __repr__(self) -> str:
        return f"<Page count={self.count} results={len(self.results)} has_next={self.has_next}>"


class AsyncPaginator(Generic[T]):
    """A list of the API, fetched lazily page by page.

    ``await`` it for the first ``Page``, ``async for`` it for every item,
    or ``async for page in paginator.pages()``. Each use starts again from the
    first page.
    """

    def __init__(
        self,
        *,
        fetch: FetchPage,
        parse_item: Callable[[Any], T],
        what: str = "list",
    ) -> None:
        self._fetch = fetch
        self._parse_item = parse_item
        self._what = what

    # unasync: async only (a sync paginator has no ``await``: call ``first_page()``)
    def __await__(self) -> Generator[Any, None, Page[T]]:
        return self.first_page().__await__()

    # unasync: end

    async def first_page(self) -> Page[T]:
        """The first page."""
        return self._page(await self._fetch(None))

    async def _fetch_url(self, url: str) -> Page[T]:
        return self._page(await self._fetch(url))

    async def pages(self) -> AsyncIterator[Page[T]]:
        """Every page in order, fetching the next only when asked for it."""
        page: Page[T] | None = await self.first_page()
        while page is not None:
            yield page
            current = page.next
            page = await page.next_page()
            if page is not None and page.next is not None and page.next == current:
                raise InvalidResponseError(
                    f"the {self._what} answered the same next-page URL twice; stopped",
                    status_code=200,
                )

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.results:
                yield item

    def _page(self, body: Any) -> Page[T]:
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            raise InvalidResponseError(
                f"the {self._what} answer is not a page (count, next, previous, results)",
                status_code=200,
                body=body,
            )
        count = body.get("count")
        next_url = body.get("next")
        previous = body.get("previous")
        if (
            not isinstance(count, int)
            or isinstance(count, bool)
            or not (next_url is None or isinstance(next_url, str))
            or not (previous is None or isinstance(previous, str))
        ):
            raise InvalidResponseError(
                f"the {self._what} page has a malformed count, next or previous",
                status_code=200,
                body=body,
            )
        try:
            results = [self._parse_item(item) for item in body["results"]]
        except Exception as exc:
            raise InvalidResponseError(
                f"an item of the {self._what} is not the documented shape: {exc}",
                status_code=200,
                body=body,
            ) from exc
        return Page(
            count=count,
            results=results,
            next=next_url or None,
            previous=previous or None,
            paginator=self,
        )
