"""The pytest plugin's fixtures, as a user of the package gets them (through the entry point)."""

from __future__ import annotations

import httpx
import pytest

import mindo_async.testing._plugin
from mindo_async import AsyncMindo, SentMessage, TemplateNotFoundError
from mindo_async.testing import (
    DEFAULT_API_KEY,
    Emulator,
    EmulatorData,
    EmulatorServer,
    Fault,
    FaultConfig,
)

PHONE_ID = "813497231850626"


def test_plugin_is_registered_through_the_entry_point(pytestconfig: pytest.Config) -> None:
    """The pytest11 entry point loads the plugin module under the name "mindo_async"."""
    assert pytestconfig.pluginmanager.get_plugin("mindo_async") is mindo_async.testing._plugin


def test_mindo_emulator_is_fresh_with_default_data(mindo_emulator: Emulator) -> None:
    """mindo_emulator is a new emulator with the reference's data, an empty ledger, no faults."""
    assert mindo_emulator.data == EmulatorData()
    assert mindo_emulator.ledger.messages == ()
    assert mindo_emulator.fault_config() == FaultConfig()
    assert mindo_emulator.api_key == DEFAULT_API_KEY


def test_mindo_emulator_server_serves_that_emulator(
    mindo_emulator: Emulator, mindo_emulator_server: EmulatorServer
) -> None:
    """mindo_emulator_server serves the same emulator over a loopback socket."""
    assert mindo_emulator_server.emulator is mindo_emulator
    assert mindo_emulator_server.base_url.startswith("http://127.0.0.1:")
    response = httpx.post(
        mindo_emulator_server.send_url,
        json={"template_name": "x"},
        headers={"X-API-Key": mindo_emulator_server.api_key},
    )
    assert response.status_code == 400
    assert mindo_emulator.ledger.counts["bad_request"] == 1


@pytest.mark.anyio
async def test_mindo_client_sends_in_process(
    mindo_client: AsyncMindo, mindo_emulator: Emulator
) -> None:
    """mindo_client is an AsyncMindo whose sends land in mindo_emulator's ledger."""
    sent = await mindo_client.send(
        phone_number_id=PHONE_ID,
        template_name="order_update",
        recipient_phone="+5491112345678",
        variables={"order_id": "ORD-001", "status": "In transit"},
    )
    assert isinstance(sent, SentMessage)
    (entry,) = mindo_emulator.ledger.messages
    assert entry.message_id == sent.message_id
    assert entry.variables == {"order_id": "ORD-001", "status": "In transit"}


@pytest.mark.anyio
async def test_mindo_client_sees_the_emulators_errors(mindo_client: AsyncMindo) -> None:
    """The emulator's documented 404 reaches the client as its typed error."""
    with pytest.raises(TemplateNotFoundError):
        await mindo_client.send(
            phone_number_id=PHONE_ID, template_name="missing", recipient_phone="+5491112345678"
        )


@pytest.mark.anyio
async def test_mindo_socket_client_sends_over_sockets(
    mindo_socket_client: AsyncMindo, mindo_emulator_server: EmulatorServer
) -> None:
    """mindo_socket_client is an AsyncMindo talking to mindo_emulator_server over loopback."""
    assert mindo_socket_client.base_url == mindo_emulator_server.base_url
    sent = await mindo_socket_client.send(
        phone_number_id=PHONE_ID,
        template_name="welcome_message",
        recipient_phone="+5491112345678",
        variables={"name": "Juan Perez", "code": "ABC123"},
        button_variables={"button_0": "ABC-123"},
    )
    assert sent.template_name == "welcome_message"
    assert [m.message_id for m in mindo_emulator_server.emulator.ledger.messages] == [
        sent.message_id
    ]


@pytest.mark.anyio
async def test_socket_client_retries_a_503_and_sends_once(
    mindo_socket_client: AsyncMindo, mindo_emulator_server: EmulatorServer
) -> None:
    """A scripted 503 (refused before processing) is retried and the message is sent once."""
    emulator = mindo_emulator_server.emulator
    emulator.script(Fault.status(503, retry_after=0))
    await mindo_socket_client.send(
        phone_number_id=PHONE_ID, template_name="order_update", recipient_phone="+5491112345678"
    )
    assert emulator.ledger.counts["unavailable"] == 1
    assert len(emulator.ledger) == 1
    assert emulator.ledger.duplicates() == []


class TestOverridingTheEmulator:
    """Overriding mindo_emulator configures every fixture built on it."""

    @pytest.fixture
    def mindo_emulator(self) -> Emulator:
        """An emulator with another phone number id and a fixed seed."""
        return Emulator(EmulatorData(phone_number_ids=["42"]), seed=5)

    @pytest.mark.anyio
    async def test_client_fixture_uses_the_override(
        self, mindo_client: AsyncMindo, mindo_emulator: Emulator
    ) -> None:
        """mindo_client talks to the overriding emulator (its phone number id works)."""
        await mindo_client.send(
            phone_number_id="42", template_name="order_update", recipient_phone="+5491112345678"
        )
        assert mindo_emulator.ledger.messages[0].phone_number_id == "42"
