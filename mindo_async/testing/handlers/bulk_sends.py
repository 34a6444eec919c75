"""Bulk sends (``send-bulk/`` and ``bulk-sends/...``): NOT EMULATED YET.

Placeholder handlers answering 501 ``{"detail": "..."}``, so a client sees
a clear "not implemented by the emulator" instead of a confusing 404. The
server-side bulk-send emulation (``mindo_async/testing/_bulk_state.py``) plugs
in by replacing these four entries of ``DEFAULT_HANDLERS``
(``handlers/__init__.py``), or per emulator with ``Emulator.register_handler``;
its state can live in ``EmulatorState.extensions``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._common import Reply, Request

if TYPE_CHECKING:
    from .._state import EmulatorState


def not_emulated(_state: EmulatorState, request: Request) -> Reply:
    """501: the emulator does not implement this endpoint yet."""
    return Reply(
        501,
        {"detail": f"Not implemented by the Mindo emulator yet: {request.endpoint.name}"},
        "not_implemented",
    )
