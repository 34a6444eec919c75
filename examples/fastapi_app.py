"""A FastAPI app that sends WhatsApp templates through Mindo.

- One ``AsyncMindo`` for the whole app, created in the lifespan (its connection
  pool is shared by every request) and handed to endpoints by a dependency.
- ``POST /messages`` sends one message; ``POST /campaigns`` starts a campaign in
  the background and answers 202 at once; ``GET /campaigns/{id}`` reports its
  progress. Campaigns run in a task group owned by the lifespan, so shutting
  the app down cancels them cleanly.
- Every library error becomes an HTTP answer that tells the caller what
  happened, in one function (``http_error``).

Run it against the local emulator (no account needed)::

    mindo emulator --port 8000 &
    MINDO_BASE_URL=http://127.0.0.1:8000 MINDO_API_KEY=mindo_emulator_0123456789abcdef \
        python examples/fastapi_app.py
    curl -X POST localhost:8080/messages -H 'content-type: application/json' -d \
        '{"phone_number_id": "813497231850626", "template_name": "verification_code",
          "recipient_phone": "+5491112345678", "variables": {"name": "Juan", "code": "1234"}}'
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

import anyio
from anyio.abc import TaskGroup
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from mindo_async import (
    APIConnectionError,
    APIError,
    AsyncMindo,
    AuthenticationError,
    BadRequestError,
    DeliveryUnknownError,
    InvalidRequestError,
    MindoError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    SendRequest,
    ServerError,
    ValidationError,
)

# -- request and response bodies -------------------------------------------------------


class MessageIn(BaseModel):
    phone_number_id: str
    template_name: str
    recipient_phone: str
    language: str = "es"
    variables: dict[str, str] | None = None
    button_variables: dict[str, str] | None = None


class MessageOut(BaseModel):
    message_id: str
    status: str
    sent_at: datetime


class Recipient(BaseModel):
    recipient_phone: str
    variables: dict[str, str] | None = None
    button_variables: dict[str, str] | None = None


class CampaignIn(BaseModel):
    phone_number_id: str
    template_name: str
    language: str = "es"
    recipients: list[Recipient] = Field(min_length=1)


class CampaignOut(BaseModel):
    id: str
    state: str  # "running", "done" or "cancelled"
    total: int
    sent: int = 0
    rejected: int = 0
    unknown: int = 0
    skipped: int = 0


# -- errors ------------------------------------------------------------------------------


def http_error(error: MindoError) -> tuple[int, dict[str, Any], dict[str, str]]:
    """The HTTP status, body and headers that tell our caller what happened."""
    # Checked first: a 500 from the API is both a ServerError and a DeliveryUnknownError.
    if isinstance(error, DeliveryUnknownError):
        return (
            502,
            {"detail": "the message may have been delivered: do not resend it blindly"},
            {},
        )
    if isinstance(error, InvalidRequestError):
        return 422, {"detail": "invalid message", "errors": error.errors}, {}
    if isinstance(error, RateLimitError):
        headers = {}
        if error.retry_after is not None:
            headers["Retry-After"] = str(max(1, round(error.retry_after)))
        return 429, {"detail": "rate limited by the messaging provider: try again later"}, headers
    if isinstance(error, (AuthenticationError, PermissionDeniedError)):
        # Our credentials, not the caller's: do not answer 401/403 to them.
        return 502, {"detail": "the messaging provider refused our credentials"}, {}
    if isinstance(error, NotFoundError):
        return 404, {"detail": error.message}, {}
    if isinstance(error, ValidationError):
        return 400, {"detail": error.message, "errors": error.field_errors}, {}
    if isinstance(error, BadRequestError):
        return 400, {"detail": error.message}, {}
    if isinstance(error, (ServerError, APIConnectionError)):
        return 503, {"detail": "the messaging provider is unavailable: nothing was sent"}, {}
    if isinstance(error, APIError):
        return 502, {"detail": error.message}, {}
    return 500, {"detail": "could not send the message"}, {}


async def on_mindo_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, MindoError)
    status, body, headers = http_error(error)
    return JSONResponse(body, status_code=status, headers=headers)


# -- the app -------------------------------------------------------------------------------


class Campaigns:
    """The app's background campaigns, run in a task group the lifespan owns."""

    def __init__(self, mindo: AsyncMindo, tasks: TaskGroup) -> None:
        self._mindo = mindo
        self._tasks = tasks
        self._runs: dict[str, CampaignOut] = {}

    def start(self, campaign: CampaignIn) -> CampaignOut:
        status = CampaignOut(id=uuid.uuid4().hex, state="running", total=len(campaign.recipients))
        self._runs[status.id] = status
        self._tasks.start_soon(self._run, campaign, status)
        return status

    def get(self, campaign_id: str) -> CampaignOut | None:
        return self._runs.get(campaign_id)

    async def _run(self, campaign: CampaignIn, status: CampaignOut) -> None:
        requests = (
            SendRequest(
                phone_number_id=campaign.phone_number_id,
                template_name=campaign.template_name,
                language=campaign.language,
                recipient_phone=recipient.recipient_phone,
                variables=recipient.variables,
                button_variables=recipient.button_variables,
            )
            for recipient in campaign.recipients
        )

        def on_progress(progress: Any) -> None:
            status.sent, status.rejected = progress.sent, progress.rejected
            status.unknown, status.skipped = progress.unknown, progress.skipped

        try:
            await self._mindo.send_many(requests, concurrency=16, on_progress=on_progress)
        except anyio.get_cancelled_exc_class():
            status.state = "cancelled"
            raise
        status.state = "done"


async def get_mindo(request: Request) -> AsyncMindo:
    """The dependency that hands endpoints the app's one client."""
    mindo: AsyncMindo = request.app.state.mindo
    return mindo


async def get_campaigns(request: Request) -> Campaigns:
    campaigns: Campaigns = request.app.state.campaigns
    return campaigns


Mindo = Annotated[AsyncMindo, Depends(get_mindo)]
CampaignRunner = Annotated[Campaigns, Depends(get_campaigns)]


def create_app(**client_options: Any) -> FastAPI:
    """The app; ``client_options`` go to ``AsyncMindo`` (default: the environment)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncMindo(**client_options) as mindo, anyio.create_task_group() as tasks:
            app.state.mindo = mindo
            app.state.campaigns = Campaigns(mindo, tasks)
            yield
            # Shutting down: stop the campaigns; the client closes after them.
            tasks.cancel_scope.cancel()

    app = FastAPI(title="mindo_async example", lifespan=lifespan)
    app.add_exception_handler(MindoError, on_mindo_error)

    @app.post("/messages", status_code=201)
    async def send_message(message: MessageIn, mindo: Mindo) -> MessageOut:
        sent = await mindo.send(**message.model_dump())
        return MessageOut(message_id=sent.message_id, status=str(sent.status), sent_at=sent.sent_at)

    @app.post("/campaigns", status_code=202)
    async def start_campaign(campaign: CampaignIn, campaigns: CampaignRunner) -> CampaignOut:
        return campaigns.start(campaign)

    @app.get("/campaigns/{campaign_id}", responses={404: {"description": "no such campaign"}})
    async def campaign_status(campaign_id: str, campaigns: CampaignRunner) -> Any:
        status = campaigns.get(campaign_id)
        if status is None:
            return JSONResponse({"detail": "no such campaign"}, status_code=404)
        return status

    return app


app = create_app()

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8080)
