"""Bulk sends (``send-bulk/`` and ``bulk-sends/...``): the handlers of ``_bulk_sends``.

The state of the campaigns and the four pure handlers live in
``mindo_async/testing/_bulk_sends.py``; this module names them for
``DEFAULT_HANDLERS``.
"""

from __future__ import annotations

from .._bulk_sends import create, get, list_bulk_sends, messages

__all__ = ["create", "get", "list_bulk_sends", "messages"]
