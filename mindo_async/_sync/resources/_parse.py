# GENERATED from mindo_async/resources/_parse.py by scripts/unasync.py:
# do not edit by hand; edit the async file and run `python scripts/unasync.py`.
"""Turning a decoded answer into its model, or a clear error when it is not the documented body."""

from __future__ import annotations

from typing import Any, TypeVar

import cattrs

from mindo_async._conversion import converter
from mindo_async._endpoints import Endpoint
from mindo_async._errors import InvalidResponseError

_T = TypeVar("_T")


def structure(body: Any, model: Any, endpoint: Endpoint) -> Any:
    """``body`` as ``model``; ``InvalidResponseError`` naming what did not fit otherwise."""
    try:
        return converter.structure(body, model)
    except (cattrs.BaseValidationError, TypeError, ValueError, KeyError, AttributeError) as exc:
        if isinstance(exc, cattrs.BaseValidationError):
            detail = "; ".join(cattrs.transform_error(exc))
        else:
            detail = f"{type(exc).__name__}: {exc}"
        error = InvalidResponseError(
            f"the {endpoint.name} answer is not the documented body: {detail[:300]}",
            status_code=200,
            body=body,
        )
        error.endpoint = endpoint
        raise error from exc
