"""One passphrase mechanism: --passphrase-env NAME, else ETM_BRIDGE_PASSPHRASE, else a prompt."""

from __future__ import annotations

import pytest

from etm_bridge.config import resolve_passphrase
from etm_bridge.errors import ConfigError


def _never(confirm: bool) -> str:
    raise AssertionError("prompted")


def test_the_named_variable_wins_then_the_default_variable_then_the_prompt() -> None:
    env = {"MINE": "one", "ETM_BRIDGE_PASSPHRASE": "two"}
    assert resolve_passphrase("MINE", env, _never, confirm=False) == "one"
    assert resolve_passphrase(None, env, _never, confirm=False) == "two"
    asked: list[bool] = []
    got = resolve_passphrase(None, {}, lambda c: asked.append(c) or "blue ferrets", confirm=True)
    assert got == "blue ferrets" and asked == [True]


def test_a_named_variable_that_is_not_set_is_an_error_not_a_prompt() -> None:
    with pytest.raises(ConfigError, match=r"environment variable MINE \(from --passphrase-env\)"):
        resolve_passphrase(
            "MINE", {"ETM_BRIDGE_PASSPHRASE": "x", "MINE": ""}, _never, confirm=False
        )


def test_an_empty_default_variable_prompts_and_an_empty_answer_is_refused() -> None:
    with pytest.raises(ConfigError, match="must not be empty"):
        resolve_passphrase(None, {"ETM_BRIDGE_PASSPHRASE": ""}, lambda c: "", confirm=False)
