"""The keystore passphrase, the same way for every command.

Order: ``--passphrase-env NAME`` (the variable must be set), else ``$ETM_BRIDGE_PASSPHRASE``,
else the prompt (asked twice when a new keystore is made). An empty passphrase is refused.
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
        return value
    if env.get(PASSPHRASE_ENV):
        return env[PASSPHRASE_ENV]
    value = prompt(confirm)
    if not value:
        raise ConfigError("the passphrase must not be empty")
    return str(value)
