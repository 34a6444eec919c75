"""The package's shape: no import cycle anywhere, checked on the import graph."""

from __future__ import annotations

import grimp


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: every group of two or more modules that import each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The check below can fail: a two-module loop is reported, a chain is not."""
    assert strongly_connected({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_import_cycle_in_the_package() -> None:
    """No module of ``mindo_async`` imports, directly or not, a module that imports it back
    (imports inside functions and under ``TYPE_CHECKING`` included)."""
    graph = grimp.build_graph("mindo_async", include_external_packages=False)
    edges = {
        module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules
    }
    assert strongly_connected(edges) == []


def test_the_campaign_engine_does_not_import_the_command() -> None:
    """``mindo_async.campaign`` never reaches ``mindo_async.cli``: the command drives the engine."""
    graph = grimp.build_graph("mindo_async")
    assert not graph.chain_exists(
        importer="mindo_async.campaign", imported="mindo_async.cli", as_packages=True
    )
