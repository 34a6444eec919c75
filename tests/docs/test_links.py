"""Every link and file name in the README and docs resolves inside the repository (item 17)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").rglob("*.md")])
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
# A Markdown file named in the text, such as "see RELIABILITY.md".
MENTION = re.compile(r"(?<![\w/.(-])([\w.-]+(?:/[\w.-]+)*\.md)\b")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def _targets(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return LINK.findall(text) + IMAGE.findall(text)


def _resolves(page: Path, target: str) -> bool:
    path = target.split("#", 1)[0]
    if not path:
        return True  # an anchor on the same page
    resolved = (page.parent / path).resolve()
    return resolved.is_relative_to(ROOT) and resolved.exists()


def _external(target: str) -> bool:
    return re.match(r"^[a-z][a-z0-9+.-]*:", target) is not None


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves_inside_the_repository(page: Path) -> None:
    """Each relative link of the page names a file or folder of this repository."""
    broken = [t for t in _targets(page) if not _external(t) and not _resolves(page, t)]
    assert broken == []


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_markdown_file_named_exists_in_the_repository(page: Path) -> None:
    """A ``*.md`` file named in the text (linked or not) exists next to the page or at the root."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    text = LINK.sub("", text)
    missing = [
        name
        for name in set(MENTION.findall(text))
        if not (page.parent / name).exists()
        and not (ROOT / name).exists()
        and not (ROOT / "docs" / name).exists()
    ]
    assert sorted(missing) == []


def test_the_checker_notices_a_link_outside_the_repository(tmp_path: Path) -> None:
    """A link that leaves the repository, or names a missing file, is reported."""
    page = ROOT / "docs" / "index.md"
    assert not _resolves(page, "../../elsewhere/RELIABILITY.md")
    assert not _resolves(page, "missing.md")
    assert _resolves(page, "reliability.md#which-failures-prove-the-request-was-never-sent")
    assert MENTION.findall("see RELIABILITY.md for details") == ["RELIABILITY.md"]
