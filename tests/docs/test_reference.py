"""The API reference: every resource and types module, and every public name, has a page."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import mindo_async

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference"
PACKAGE = Path(mindo_async.__file__).parent
DIRECTIVE = re.compile(r"^::: ([\w.]+)", re.MULTILINE)


def directives() -> set[str]:
    """Every ``::: dotted.name`` the reference pages render."""
    found: set[str] = set()
    for page in REFERENCE.rglob("*.md"):
        found.update(DIRECTIVE.findall(page.read_text("utf-8")))
    return found


def test_every_resource_and_types_module_has_its_page() -> None:
    """``resources/<area>.py`` and ``types/<area>.py`` each have ``docs/reference/.../<area>.md``
    rendering that module."""
    missing = []
    for folder in ("resources", "types"):
        for module in sorted((PACKAGE / folder).glob("*.py")):
            if module.name.startswith("_"):
                continue
            page = REFERENCE / folder / f"{module.stem}.md"
            dotted = f"mindo_async.{folder}.{module.stem}"
            if not page.exists() or dotted not in DIRECTIVE.findall(page.read_text("utf-8")):
                missing.append(f"{page.relative_to(ROOT)} (::: {dotted})")
    assert missing == []


def test_every_public_name_is_rendered_somewhere() -> None:
    """Each name in ``mindo_async.__all__`` is rendered by name or through its module."""
    rendered = directives()
    missing = []
    for name in mindo_async.__all__:
        obj = getattr(mindo_async, name)
        module = getattr(obj, "__module__", "")
        if f"mindo_async.{name}" not in rendered and module not in rendered:
            missing.append(name)
    assert missing == []


def test_every_reference_page_is_in_the_navigation() -> None:
    """mkdocs lists every reference page in ``nav`` (a page outside it is never found)."""
    config = (ROOT / "mkdocs.yml").read_text("utf-8")
    pages = sorted(str(p.relative_to(ROOT / "docs")) for p in REFERENCE.rglob("*.md"))
    assert [p for p in pages if p not in config] == []


def test_every_directive_names_an_importable_object() -> None:
    """A ``:::`` directive that names nothing would render an empty page."""
    broken = []
    for dotted in sorted(directives()):
        module_name, _, attribute = dotted.rpartition(".")
        try:
            importlib.import_module(dotted)
            continue
        except ImportError:
            pass
        try:
            getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError):
            broken.append(dotted)
    assert broken == []
