"""The public names of ``mindo_async``: what users import is exactly what is exported."""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import pkgutil
import types
import typing
from collections.abc import Iterator

import pytest

import mindo_async


def _public_namespace() -> set[str]:
    return {
        name
        for name, value in vars(mindo_async).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }


def test_all_is_sorted() -> None:
    """``__all__`` is kept sorted, so additions are easy to review."""
    assert mindo_async.__all__ == sorted(mindo_async.__all__)


def test_all_has_no_duplicates() -> None:
    """Every public name is listed once."""
    assert len(mindo_async.__all__) == len(set(mindo_async.__all__))


def test_all_matches_the_public_namespace() -> None:
    """``__all__`` lists exactly the public names of the package (no stray imports)."""
    assert set(mindo_async.__all__) == _public_namespace()


@pytest.mark.parametrize("name", mindo_async.__all__)
def test_every_exported_name_is_importable(name: str) -> None:
    """``from mindo_async import <name>`` works for every name in ``__all__``."""
    module = importlib.import_module("mindo_async")
    assert getattr(module, name) is not None
    namespace: dict[str, object] = {}
    exec(f"from mindo_async import {name}", namespace)
    assert namespace[name] is getattr(mindo_async, name)


def test_version_is_the_installed_version() -> None:
    """``mindo_async.__version__`` is the installed distribution's version."""
    assert isinstance(mindo_async.__version__, str)
    assert mindo_async.__version__ == importlib.metadata.version("mindo-async")


def test_unknown_attribute_is_an_attribute_error() -> None:
    """The lazy ``__version__`` hook does not swallow other missing attributes."""
    with pytest.raises(AttributeError):
        mindo_async.no_such_name  # noqa: B018


def _exported_exceptions() -> list[type[BaseException]]:
    found = []
    for name in mindo_async.__all__:
        value = getattr(mindo_async, name)
        if isinstance(value, type) and issubclass(value, BaseException):
            found.append(value)
    return found


@pytest.mark.parametrize("exception", _exported_exceptions(), ids=lambda cls: cls.__name__)
def test_every_exception_derives_from_mindo_error(exception: type[BaseException]) -> None:
    """``except MindoError`` catches everything the library raises."""
    assert issubclass(exception, mindo_async.MindoError)
    assert exception.__name__.endswith("Error")


def test_the_documented_exceptions_are_exported() -> None:
    """Every exception named in the issue's contract is importable from the package."""
    documented = {
        "MindoError",
        "ConfigurationError",
        "ClientClosedError",
        "InvalidRequestError",
        "APIError",
        "BadRequestError",
        "ValidationError",
        "TemplateNotApprovedError",
        "AuthenticationError",
        "PermissionDeniedError",
        "NotFoundError",
        "TemplateNotFoundError",
        "PhoneNumberNotFoundError",
        "RateLimitError",
        "ServerError",
        "APIConnectionError",
        "DeliveryUnknownError",
    }
    assert documented <= {cls.__name__ for cls in _exported_exceptions()}


def test_value_errors() -> None:
    """Bad input and bad configuration are also ``ValueError``s."""
    assert issubclass(mindo_async.InvalidRequestError, ValueError)
    assert issubclass(mindo_async.ConfigurationError, ValueError)


def test_hierarchy_of_api_errors() -> None:
    """The specific API errors sit under the general ones the issue names."""
    m = mindo_async
    assert issubclass(m.ValidationError, m.BadRequestError)
    assert issubclass(m.TemplateNotApprovedError, m.BadRequestError)
    assert issubclass(m.TemplateNotFoundError, m.NotFoundError)
    assert issubclass(m.PhoneNumberNotFoundError, m.NotFoundError)
    for cls in (m.BadRequestError, m.AuthenticationError, m.PermissionDeniedError):
        assert issubclass(cls, m.APIError)
    for cls in (m.NotFoundError, m.RateLimitError, m.ServerError):
        assert issubclass(cls, m.APIError)
    assert issubclass(m.ServerDeliveryUnknownError, m.ServerError)
    assert issubclass(m.ServerDeliveryUnknownError, m.DeliveryUnknownError)
    assert issubclass(m.UnexpectedResponseError, m.APIError)
    assert issubclass(m.UnexpectedResponseError, m.DeliveryUnknownError)
    assert not issubclass(m.APIConnectionError, m.DeliveryUnknownError)
    assert not issubclass(m.DeliveryUnknownError, m.APIConnectionError)


def test_the_documented_models_are_exported() -> None:
    """``AsyncMindo``, ``SentMessage``, ``MessageStatus`` and ``SendRequest`` are public."""
    assert {"AsyncMindo", "SentMessage", "MessageStatus", "SendRequest"} <= set(mindo_async.__all__)


def _mindo_classes(annotation: object) -> Iterator[type]:
    """The library's own classes named anywhere in ``annotation``."""
    if isinstance(annotation, type) and annotation.__module__.startswith("mindo_async"):
        yield annotation
    origin = typing.get_origin(annotation)
    if origin is not None:
        yield from _mindo_classes(origin)
    for argument in typing.get_args(annotation):
        yield from _mindo_classes(argument)


def _resource_classes() -> Iterator[type]:
    for package in ("mindo_async.resources", "mindo_async._sync.resources"):
        for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
            module = importlib.import_module(f"{package}.{info.name}")
            for value in vars(module).values():
                if isinstance(value, type) and value.__module__ == module.__name__:
                    yield value


def test_every_type_a_public_method_returns_is_exported() -> None:
    """What a client or resource method returns (a paginator, a page, a model) can be imported
    from ``mindo_async`` to annotate the caller's code."""
    exported = {id(getattr(mindo_async, name)) for name in mindo_async.__all__}
    missing = set()
    owners = [mindo_async.AsyncMindo, mindo_async.Mindo, *_resource_classes()]
    for owner in owners:
        for name, member in inspect.getmembers(owner, inspect.isfunction):
            if name.startswith("_"):
                continue
            returned = typing.get_type_hints(member).get("return")
            for cls in _mindo_classes(returned):
                if id(cls) not in exported:
                    missing.add(
                        f"{owner.__qualname__}.{name} -> {cls.__module__}.{cls.__qualname__}"
                    )
    assert not missing, sorted(missing)
