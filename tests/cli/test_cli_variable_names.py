"""One rule for template variable names, the same in `mindo send --var` and `mindo bulk` columns."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from mindo_async import SendRequest
from mindo_async._validation import request_problems, variable_name_problem
from mindo_async.cli import app
from mindo_async.testing import Emulator, EmulatorServer, serve

NUMBER_ID = "813497231850626"
TEMPLATE = "verification_code"
RECIPIENT = "+5491150000001"

#: Names both commands accept as template variables.
ACCEPTED = ["name", "first_name", "code_2", "1"]
#: Names both commands refuse, and a word each refusal names.
REFUSED = {
    "Name": "did you mean 'name'?",
    "First Name": "did you mean 'first_name'?",
    "first-name": "did you mean 'first_name'?",
    "NAME": "did you mean 'name'?",
    "código": "lowercase letters, digits and underscores",
    "button1": "is not a button variable",
}
# "Button_0" is no longer refused by `mindo bulk`: reserved columns match whatever
# their case (issue 14 item 7), so it is the button_0 column (tests/cli/test_cli_columns.py).


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    """One emulator served over loopback sockets for the module (the tests only count)."""
    with serve(Emulator(seed=3)) as running:
        yield running


def invoke(server: EmulatorServer | None, args: list[str]) -> Result:
    """Run `mindo ARGS` in-process, with the emulator's URL and key when given."""
    env = {"MINDO_API_KEY": "", "MINDO_BASE_URL": "", "COLUMNS": "250"}
    if server is not None:
        env.update(MINDO_API_KEY=server.api_key, MINDO_BASE_URL=server.base_url)
    return CliRunner().invoke(app, args, env=env)


def send_with_var(server: EmulatorServer, name: str) -> Result:
    """`mindo send --var NAME=x`."""
    args = ["send", "--phone-number-id", NUMBER_ID, "--template", TEMPLATE, "--to", RECIPIENT]
    return invoke(server, [*args, "--var", f"{name}=x"])


def bulk_with_column(tmp_path: Path, name: str) -> Result:
    """`mindo bulk --dry-run` on a one-row CSV whose only variable column is NAME."""
    source = tmp_path / "c.csv"
    source.write_text(f"recipient_phone,{name}\n{RECIPIENT},x\n", encoding="utf-8")
    args = ["bulk", str(source), "--phone-number-id", NUMBER_ID, "--template", TEMPLATE]
    return invoke(None, [*args, "--dry-run"])


@pytest.mark.parametrize("name", ACCEPTED)
def test_the_rule_accepts(name: str) -> None:
    """Lowercase letters, digits and underscores make a variable name."""
    assert variable_name_problem(name) is None


@pytest.mark.parametrize("name", [name for name in REFUSED if "button" not in name.lower()])
def test_the_rule_refuses_and_suggests(name: str) -> None:
    """Any other character is refused, with a suggestion when one can be made."""
    problem = variable_name_problem(name)
    assert problem is not None
    assert "lowercase letters, digits and underscores" in problem
    assert REFUSED[name] in problem


@pytest.mark.parametrize("name", ACCEPTED)
def test_send_accepts_what_bulk_accepts(name: str, server: EmulatorServer, tmp_path: Path) -> None:
    """A name `mindo bulk` takes as a column, `mindo send --var` sends (the request leaves)."""
    before = server.ledger.counts["total_requests"]
    sent = send_with_var(server, name)
    assert "cannot be a template variable" not in sent.output, sent.output
    assert server.ledger.counts["total_requests"] == before + 1
    checked = bulk_with_column(tmp_path, name)
    assert checked.exit_code == 0, checked.output
    assert "1 valid, 0 with problems" in checked.stdout


@pytest.mark.parametrize("name", list(REFUSED))
def test_send_refuses_what_bulk_refuses(name: str, server: EmulatorServer, tmp_path: Path) -> None:
    """What `mindo bulk` refuses as a column, `mindo send --var` refuses: exit 2, no request."""
    before = server.ledger.counts["total_requests"]
    sent = send_with_var(server, name)
    assert sent.exit_code == 2, sent.output
    assert server.ledger.counts["total_requests"] == before
    checked = bulk_with_column(tmp_path, name)
    assert checked.exit_code == 2, checked.output
    for result in (sent, checked):
        assert repr(name) in result.output
        assert REFUSED[name] in result.output
        if not name.lower().startswith("button"):  # the same words, from the same function
            assert str(variable_name_problem(name)) in result.output


def test_send_points_a_button_key_to_button_var(server: EmulatorServer) -> None:
    """`--var button_0=x` is refused with a pointer to --button-var (a bulk column of that name
    is a button)."""
    before = server.ledger.counts["total_requests"]
    result = send_with_var(server, "button_0")
    assert result.exit_code == 2
    assert "--button-var button_0=VALUE" in result.output
    assert server.ledger.counts["total_requests"] == before


def test_the_library_is_not_held_to_the_rule() -> None:
    """`SendRequest` validation still takes any non-empty name: the rule is the command's."""
    request = SendRequest(
        phone_number_id=NUMBER_ID,
        template_name=TEMPLATE,
        recipient_phone=RECIPIENT,
        variables={"First Name": "x"},
    )
    assert request_problems(request) == {}
