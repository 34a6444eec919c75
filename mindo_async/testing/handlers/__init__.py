"""The emulator's handlers: one pure module per area of the API.

``DEFAULT_HANDLERS`` maps each endpoint name (``Endpoint.name``) to the
function answering it; ``send`` is special-cased by the shell (quota, rate
limit, ledger) around ``send.check_send``. To add or replace an endpoint's
behaviour, register a ``Handler`` (``(state, request) -> Reply``) here or on
one emulator with ``Emulator.register_handler(name, handler)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ..._endpoints import (
    BULK_SEND,
    BULK_SEND_MESSAGES,
    BULK_SENDS,
    BUSINESS_ACCOUNTS,
    BUSINESS_HOURS,
    BUSINESS_INFO,
    CONTACT_LOOKUP,
    HOLIDAYS,
    MESSAGE_STATUS,
    SEND_BULK,
)
from . import bulk_sends, business, business_accounts, contacts, messages
from ._common import Handler, Options, Reply, Request

__all__ = ["DEFAULT_HANDLERS", "Handler", "Options", "Reply", "Request"]

#: Endpoint name -> handler, for every endpoint but ``send``.
DEFAULT_HANDLERS: Mapping[str, Handler] = MappingProxyType(
    {
        BUSINESS_ACCOUNTS.name: business_accounts.get,
        MESSAGE_STATUS.name: messages.get,
        CONTACT_LOOKUP.name: contacts.lookup,
        BUSINESS_INFO.name: business.info,
        BUSINESS_HOURS.name: business.hours,
        HOLIDAYS.name: business.holidays,
        SEND_BULK.name: bulk_sends.create,
        BULK_SEND.name: bulk_sends.get,
        BULK_SEND_MESSAGES.name: bulk_sends.messages,
        BULK_SENDS.name: bulk_sends.list_bulk_sends,
    }
)
