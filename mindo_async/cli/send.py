"""``mindo send``: one template message."""

from __future__ import annotations

from typing import Annotated

import anyio
import typer

from .._client import AsyncMindo
from .._errors import InvalidRequestError, MindoError
from .._models import SendRequest, SentMessage
from .._protocol import mask_phone
from .._validation import BUTTON_KEY, variable_name_problem
from ._common import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    ApiKeyOption,
    BaseUrlOption,
    TimeoutOption,
    VerboseOption,
    configuration_problem,
    configure_logging,
    consoles,
    error_json,
    exit_code_for,
    sent_message_json,
    what_to_do,
)

app = typer.Typer()


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values or []:
        name, sep, text = value.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"{value!r} is not NAME=VALUE", param_hint=option)
        name = name.strip()
        if name in pairs:
            raise typer.BadParameter(f"{name!r} is given twice", param_hint=option)
        pairs[name] = text
    return pairs


def _variables(values: list[str] | None) -> dict[str, str]:
    """The ``--var`` pairs, each name held to the rule ``mindo bulk`` holds its columns to."""
    variables = _pairs(values, "--var")
    for name in variables:
        if BUTTON_KEY.fullmatch(name):
            raise typer.BadParameter(
                f"{name!r} is a button variable: give it with --button-var {name}=VALUE",
                param_hint="--var",
            )
        if name.lower().startswith("button"):
            # As in a mindo bulk file, where such a column would be a mistyped button.
            raise typer.BadParameter(
                f"{name!r} is not a button variable: button variables are named button_0, "
                "button_1, ... (the button's position, from 0), given with --button-var",
                param_hint="--var",
            )
        problem = variable_name_problem(name)
        if problem is not None:
            raise typer.BadParameter(
                f"{name!r} cannot be a template variable: {problem}", param_hint="--var"
            )
    return variables


@app.command()
def send(
    phone_number_id: Annotated[
        str, typer.Option("--phone-number-id", help="Meta's id of the sending WhatsApp number.")
    ],
    template: Annotated[str, typer.Option("--template", "-t", help="Approved template name.")],
    to: Annotated[
        str, typer.Option("--to", help="Recipient in international format: +5491112345678.")
    ],
    language: Annotated[str, typer.Option("--language", "-l", help="Template language.")] = "es",
    var: Annotated[
        list[str] | None,
        typer.Option("--var", help="Template variable NAME=VALUE (repeat for more)."),
    ] = None,
    button_var: Annotated[
        list[str] | None,
        typer.Option("--button-var", help="Button variable button_N=VALUE (repeat for more)."),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the result (or the error) as JSON.")
    ] = False,
    api_key: ApiKeyOption = None,
    base_url: BaseUrlOption = None,
    timeout: TimeoutOption = 30.0,
    verbose: VerboseOption = False,
) -> None:
    """Send one template message and print the result."""
    out, err = consoles()
    configure_logging(verbose)
    variables = _variables(var)
    buttons = _pairs(button_var, "--button-var")
    problem = configuration_problem(api_key, base_url)
    if problem is not None:
        if json_output:
            out.print_json(data={"error": {"type": "ConfigurationError", "message": problem}})
        else:
            err.print(f"Error: {problem}")
        raise typer.Exit(EXIT_USAGE)
    request = SendRequest(
        phone_number_id=phone_number_id,
        template_name=template,
        recipient_phone=to,
        language=language,
        variables=variables or None,
        button_variables=buttons or None,
    )

    async def deliver() -> SentMessage:
        async with AsyncMindo(
            api_key=api_key, base_url=base_url, timeout=timeout, rate_limit=None
        ) as mindo:
            return await mindo.send_request(request)

    try:
        message = anyio.run(deliver)
    except MindoError as exc:
        if json_output:
            out.print_json(data=error_json(exc))
        else:
            err.print(f"Not sent to {mask_phone(to)}: {type(exc).__name__}: {exc}")
            if isinstance(exc, InvalidRequestError):
                for field, messages in exc.errors.items():
                    err.print(f"  {field}: {'; '.join(messages)}")
            err.print(what_to_do(exc))
        raise typer.Exit(exit_code_for(exc)) from None
    except KeyboardInterrupt:
        err.print(
            "Interrupted: the message may have been delivered if the request had left; "
            "check before sending it again."
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if json_output:
        out.print_json(data=sent_message_json(message))
        return
    out.print(f"Sent {message.message_id}")
    out.print(f"  to        {mask_phone(message.recipient_phone)}")
    out.print(f"  template  {message.template_name} ({language})")
    out.print(f"  status    {message.status}")
    out.print(f"  sent_at   {message.sent_at.isoformat()}")
