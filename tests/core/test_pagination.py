"""The paginator: first page, every item lazily, page by page; malformed pages refused."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest

from mindo_async._errors import InvalidResponseError
from mindo_async._pagination import AsyncPaginator, Page

BASE = "http://127.0.0.1:8000"
PATH = "/api/v1/items/"


class Server:
    """A MockTransport that pages 0..total-1 and counts requests per host."""

    def __init__(self, total: int, page_size: int) -> None:
        self.total = total
        self.page_size = page_size
        self.requests: Counter[str] = Counter()
        self.client = httpx.AsyncClient(transport=httpx.MockTransport(self.handle))

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests[f"{request.url.host}:{request.url.port}"] += 1
        page = int(request.url.params.get("page", "1"))
        start = (page - 1) * self.page_size
        items = list(range(start, min(start + self.page_size, self.total)))
        more = start + self.page_size < self.total
        return httpx.Response(
            200,
            json={
                "count": self.total,
                "next": f"{BASE}{PATH}?page={page + 1}" if more else None,
                "previous": f"{BASE}{PATH}?page={page - 1}" if page > 1 else None,
                "results": [{"n": n} for n in items],
            },
        )

    def paginator(self) -> AsyncPaginator[int]:
        async def fetch(url: str | None) -> Any:
            response = await self.client.get(url or BASE + PATH)
            return response.json()

        return AsyncPaginator(fetch=fetch, parse_item=lambda item: item["n"])


@pytest.mark.anyio
async def test_await_gives_the_first_page() -> None:
    """Awaiting the paginator fetches only the first page, with count and links."""
    server = Server(total=5, page_size=2)
    page = await server.paginator()
    assert isinstance(page, Page)
    assert (page.count, page.results, page.has_next, page.previous) == (5, [0, 1], True, None)
    assert sum(server.requests.values()) == 1


@pytest.mark.anyio
async def test_next_page_walks_to_the_end() -> None:
    """next_page() follows next and returns None after the last page."""
    server = Server(total=5, page_size=2)
    page: Page[int] | None = await server.paginator()
    seen: list[list[int]] = []
    while page is not None:
        seen.append(page.results)
        page = await page.next_page()
    assert seen == [[0, 1], [2, 3], [4]]


@pytest.mark.anyio
async def test_async_for_yields_every_item_lazily() -> None:
    """async for walks every item, fetching a page only when its first item is needed."""
    server = Server(total=7, page_size=3)
    items: list[int] = []
    requests_when: list[int] = []
    async for item in server.paginator():
        items.append(item)
        requests_when.append(sum(server.requests.values()))
    assert items == list(range(7))
    assert requests_when == [1, 1, 1, 2, 2, 2, 3]


@pytest.mark.anyio
async def test_pages_yields_page_by_page() -> None:
    """pages() yields each page in order."""
    server = Server(total=4, page_size=2)
    pages = [page.results async for page in server.paginator().pages()]
    assert pages == [[0, 1], [2, 3]]


@pytest.mark.anyio
async def test_empty_list() -> None:
    """An empty list is one page with no results and no next."""
    server = Server(total=0, page_size=2)
    assert [item async for item in server.paginator()] == []
    page = await server.paginator()
    assert (page.count, page.has_next) == (0, False)
    assert await page.next_page() is None


@pytest.mark.anyio
@pytest.mark.parametrize(
    "body",
    [
        [],
        {"count": 1},
        {"count": "1", "next": None, "previous": None, "results": []},
        {"count": 1, "next": 3, "previous": None, "results": []},
        {"count": 1, "next": None, "previous": None, "results": [{"x": 1}]},
    ],
)
async def test_a_malformed_page_raises(body: Any) -> None:
    """A body that is not a documented page (or an item that does not parse) raises."""

    async def fetch(url: str | None) -> Any:
        return body

    paginator = AsyncPaginator(fetch=fetch, parse_item=lambda item: item["n"])
    with pytest.raises(InvalidResponseError):
        await paginator


@pytest.mark.anyio
async def test_a_page_that_links_to_itself_stops() -> None:
    """A next URL equal to the page's own URL raises instead of looping for ever."""
    calls = 0

    async def fetch(url: str | None) -> Any:
        nonlocal calls
        calls += 1
        return {"count": 9, "next": f"{BASE}{PATH}?page=2", "previous": None, "results": []}

    paginator = AsyncPaginator(fetch=fetch, parse_item=lambda item: item)
    with pytest.raises(InvalidResponseError, match="same next-page URL"):
        async for _ in paginator.pages():
            pass
    assert calls == 2
