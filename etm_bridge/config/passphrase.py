"""The keystore passphrase, the same way for every command.

Order: ``--passphrase-env NAME`` (the variable must be set), else ``$ETM_BRIDGE_PASSPHRASE``,
else the prompt (asked twice when a new keystore is made). An empty passphrase is refused.

A NEW keystore's passphrase (``confirm``) must be strong (:func:`check_strength`): at least
:data:`MIN_LENGTH` characters and a zxcvbn score of at least :data:`MIN_SCORE` of 4 (Dropbox's
estimator: about 10^8 guesses or more, so an offline attack on a stolen keystore costs that many
argon2id runs). An existing keystore opens with whatever passphrase it was made with.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..errors import ConfigError
from .sources import PASSPHRASE_ENV


def resolve_passphrase(
    option_env_name: str | None,
    env: Mapping[str, str],
    prompt: Callable[[bool], str],
    *,
    confirm: bool,
) -> str:
    """The passphrase; ``prompt(confirm)`` asks the user (only when no variable gives it)."""
    if option_env_name is not None:
        value = env.get(option_env_name)
        if not value:
            raise ConfigError(
                f"environment variable {option_env_name} (from --passphrase-env) is not set"
            )
    elif env.get(PASSPHRASE_ENV):
        value = env[PASSPHRASE_ENV]
    else:
        value = prompt(confirm)
        if not value:
            raise ConfigError("the passphrase must not be empty")
    if confirm:
        check_strength(str(value))
    return str(value)


#: The rule for a new keystore's passphrase.
MIN_LENGTH = 10
MIN_SCORE = 3
RULE = (
    f"a new keystore's passphrase needs at least {MIN_LENGTH} characters and a strength score "
    f"of at least {MIN_SCORE} of 4 (zxcvbn: about 10^8 guesses); a few uncommon words work well"
)


def check_strength(passphrase: str) -> None:
    """ConfigError naming the rule (:data:`RULE`) and the estimator's advice if ``passphrase``
    is too weak for a new keystore."""
    if len(passphrase) < MIN_LENGTH:
        raise ConfigError(f"passphrase too short ({len(passphrase)} characters): {RULE}")
    import zxcvbn  # here: its dictionaries load in ~30 ms, only a new keystore needs them

    # zxcvbn's matchers are slow on long input; its first 100 characters decide the score
    result = zxcvbn.zxcvbn(passphrase[:100])
    if int(result["score"]) < MIN_SCORE:
        feedback = result.get("feedback") or {}
        advice = " ".join([feedback.get("warning") or "", *feedback.get("suggestions", [])])
        raise ConfigError(
            f"passphrase too weak (score {result['score']} of 4): {RULE}."
            + (f" {advice.strip()}" if advice.strip() else "")
        )
