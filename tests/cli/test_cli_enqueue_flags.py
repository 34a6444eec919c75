"""``mindo bulk --enqueue``: the usage errors, before any file is read or Redis reached."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from mindo_async.campaign import QueueTarget
from mindo_async.campaign._enqueue import redacted_url
from mindo_async.cli import app

#: Nothing listens there: a run that reached Redis would fail differently.
NOWHERE = "redis://127.0.0.1:9/0"


def invoke(args: list[str], **env: str) -> Result:
    return CliRunner().invoke(
        app, args, env={"MINDO_REDIS_URL": "", "MINDO_API_KEY": "", "COLUMNS": "200", **env}
    )


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "c.csv"
    path.write_text("recipient_phone,name\n+5491150000001,Ana\n", encoding="utf-8")
    return path


def test_enqueue_without_redis_is_a_usage_error(source: Path) -> None:
    """--enqueue with neither --redis nor MINDO_REDIS_URL: exit 2, naming --redis."""
    result = invoke(["bulk", str(source), "--enqueue", "--template", "t"])
    assert result.exit_code == 2
    assert "--enqueue needs the queue's Redis" in result.output
    assert "MINDO_REDIS_URL" in result.output


def test_redis_without_enqueue_is_a_usage_error(source: Path) -> None:
    """--redis given without --enqueue is refused rather than ignored."""
    result = invoke(["bulk", str(source), "--redis", NOWHERE, "--template", "t"])
    assert result.exit_code == 2
    assert "--redis is for --enqueue" in result.output


@pytest.mark.parametrize(
    ("flag", "why"),
    [
        (["--rate", "10"], "mindo worker --rate"),
        (["--concurrency", "4"], "--max-async-tasks"),
        (["--no-journal"], "in Redis"),
        (["--campaign", "w49"], "another --namespace"),
        (["--retry-unknown"], "not supported"),
    ],
)
def test_flags_of_a_local_run_are_refused_with_enqueue(
    source: Path, flag: list[str], why: str
) -> None:
    """A flag that only a run sending here honours is a usage error with --enqueue."""
    result = invoke(["bulk", str(source), "--enqueue", "--redis", NOWHERE, "-t", "t", *flag])
    assert result.exit_code == 2
    assert "not with --enqueue" in result.output
    assert why in result.output


def test_dry_run_with_enqueue_checks_the_file_and_reaches_no_redis(source: Path) -> None:
    """--enqueue --dry-run (Redis URL from MINDO_REDIS_URL, nothing listening): exit 0."""
    result = invoke(
        ["bulk", str(source), "--enqueue", "--dry-run", "-t", "t", "--phone-number-id", "1"],
        MINDO_REDIS_URL=NOWHERE,
    )
    assert result.exit_code == 0, result.output
    assert "1 rows would be enqueued" in result.output


def test_unreachable_redis_is_a_clear_error_and_nothing_is_enqueued(source: Path) -> None:
    """Redis out of reach: exit 2, the URL named, 'Nothing was enqueued'."""
    args = ["bulk", str(source), "--enqueue", "--redis", NOWHERE, "-t", "t"]
    result = invoke([*args, "--phone-number-id", "1", "--no-preflight"])
    assert result.exit_code == 2, result.output
    assert "cannot be reached" in result.output
    assert "Nothing was enqueued" in result.output


def test_the_redis_password_is_never_shown() -> None:
    """A Redis URL's password is masked wherever the command names the URL."""
    target = QueueTarget(redis_url="redis://user:s3cret@10.0.0.5:6380/2")
    assert redacted_url(target.redis_url) == "redis://user:***@10.0.0.5:6380/2"
    assert redacted_url(NOWHERE) == NOWHERE
