"""Template messages: send one, and (with the account issue) read its delivery status."""

from __future__ import annotations

from collections.abc import Mapping

from .._models import SendRequest, SentMessage, VariableValue
from .._validation import validate_request
from ._base import AsyncAPIResource


class AsyncMessages(AsyncAPIResource):
    """Template messages: ``send``, ``send_request``."""

    async def send(
        self,
        *,
        phone_number_id: str,
        template_name: str,
        recipient_phone: str,
        language: str = "es",
        variables: Mapping[str, VariableValue] | None = None,
        button_variables: Mapping[str, str] | None = None,
    ) -> SentMessage:
        """Send one template message; the same as ``AsyncMindo.send``."""
        return await self.send_request(
            SendRequest(
                phone_number_id=phone_number_id,
                template_name=template_name,
                recipient_phone=recipient_phone,
                language=language,
                variables=variables,
                button_variables=button_variables,
            )
        )

    async def send_request(self, request: SendRequest) -> SentMessage:
        """Send one ``SendRequest``; the same as ``AsyncMindo.send_request``."""
        self._requester.ensure_open()
        message, _ = await self._requester.deliver(validate_request(request))
        return message
