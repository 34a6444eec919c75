# GENERATED from mindo_async/resources/messages.py by scripts/unasync.py:
# do not edit by hand; edit the async file and run `python scripts/unasync.py`.
"""Template messages: send one, and read its delivery status."""

from __future__ import annotations

from collections.abc import Mapping

from mindo_async._endpoints import MESSAGE_STATUS
from mindo_async._errors import (
    APIError,
    EndpointNotAvailableError,
    InvalidRequestError,
    NotFoundError,
)
from mindo_async._models import SendRequest, SentMessage, VariableValue
from mindo_async._sync.resources._base import SyncAPIResource
from mindo_async._sync.resources._parse import structure
from mindo_async._validation import validate_request
from mindo_async.types.messages import MessageDetails


class SyncMessages(SyncAPIResource):
    """Template messages: ``send``, ``send_request``, and ``get`` (the delivery status)."""

    def send(
        self,
        *,
        phone_number_id: str,
        template_name: str,
        recipient_phone: str,
        language: str = "es",
        variables: Mapping[str, VariableValue] | None = None,
        button_variables: Mapping[str, str] | None = None,
    ) -> SentMessage:
        """Send one template message; the same as ``Mindo.send``."""
        return self.send_request(
            SendRequest(
                phone_number_id=phone_number_id,
                template_name=template_name,
                recipient_phone=recipient_phone,
                language=language,
                variables=variables,
                button_variables=button_variables,
            )
        )

    def send_request(self, request: SendRequest) -> SentMessage:
        """Send one ``SendRequest``; the same as ``Mindo.send_request``."""
        self._requester.ensure_open()
        ready = validate_request(request, self._requester.default_region)
        message, _ = self._requester.deliver(ready)
        return message

    def get(self, message_id: str) -> MessageDetails:
        """The delivery status of the message ``message_id`` (the wamid ``send`` returned).

        The wamid is percent-encoded in the path. The API's overview marks this
        endpoint "coming soon": a 404 that is not the API's JSON error, a 405 or
        a 501 raises ``EndpointNotAvailableError``; a JSON 404 is
        ``NotFoundError`` (no such message).
        """
        if not isinstance(message_id, str) or not message_id.strip():
            raise InvalidRequestError({"message_id": ["is required (the wamid send returned)"]})
        try:
            body = self._get(MESSAGE_STATUS, path_params={"message_id": message_id.strip()})
        except NotFoundError as exc:
            if isinstance(exc.body, dict):
                raise
            raise _not_available(exc) from exc
        except APIError as exc:
            if exc.status_code in (405, 501):
                raise _not_available(exc) from exc
            raise
        return structure(body, MessageDetails, MESSAGE_STATUS)  # type: ignore[no-any-return]


def _not_available(error: APIError) -> EndpointNotAvailableError:
    return EndpointNotAvailableError.from_error(
        error,
        f"the server does not offer the message-status endpoint yet (HTTP {error.status_code}; "
        "the API lists it as coming soon); keep the message_id and try again later",
    )
