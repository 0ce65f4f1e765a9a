"""The one home directory that holds a user's state, and where it is.

Order: ``--home``, else ``$ETM_BRIDGE_HOME``, else ``$ETM_BRIDGE_DATA_DIR`` (the deprecated name
of the same thing), else the per-user data directory (``platformdirs``: ``$XDG_DATA_HOME/
etm-bridge``, ``~/.local/share/etm-bridge`` on Linux). Never the current directory: a command run
from another directory finds the same keystore and swap database.

Layout::

    <home>/config.toml     the config file (etm_bridge.config)
    <home>/keystore.json   the wallet (etm_bridge.wallet.keystore)
    <home>/swaps.db        the swap engine's database (and its lock)
    <home>/<chain name>/   a chain adapter's data dir (``[chains.<name>] data_dir``)
    <home>/wallet-cache/   the balance reader's block index
    <home>/logs/           logs
    <home>/node/           default data dir of ``etm-bridge node init|run``

Before this home existed the swap engine defaulted to ``./.etm/swaps`` in the current directory.
:meth:`Home.old_swaps_note` says so when such a database is found and the home is the default
one; nothing is moved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "etm-bridge"
HOME_ENV = "ETM_BRIDGE_HOME"
#: Deprecated name of :data:`HOME_ENV` (it named the wallet's data directory, now the home).
LEGACY_HOME_ENV = "ETM_BRIDGE_DATA_DIR"
#: The swap engine's home before there was one home, relative to the current directory.
OLD_SWAPS_HOME = Path(".etm") / "swaps"


@dataclass(frozen=True)
class Home:
    """The home directory and the files in it. ``source`` says how it was chosen."""

    root: Path
    source: str = "default"

    @property
    def explicit(self) -> bool:
        """True when the user chose it (option, environment, config file), not the default."""
        return self.source != "default"

    @property
    def config_path(self) -> Path:
        return self.root / "config.toml"

    @property
    def keystore_path(self) -> Path:
        return self.root / "keystore.json"

    @property
    def swaps_db(self) -> Path:
        return self.root / "swaps.db"

    @property
    def wallet_cache(self) -> Path:
        return self.root / "wallet-cache"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    @property
    def deposits_dir(self) -> Path:
        """The LP deposits paid and not yet proven (``app.deposit_journal``)."""
        return self.root / "deposits"

    @property
    def node_dir(self) -> Path:
        return self.root / "node"

    def chain_data_dir(self, name: str) -> Path:
        """The default data dir of the chain configured as ``[chains.<name>]``."""
        return self.root / name

    def old_swaps_note(self, cwd: Path | None = None) -> str | None:
        """One line when ``./.etm/swaps/swaps.db`` (the old default home) exists and this home
        is the default one: nothing watches those swaps any more, and some may fall due.

        Said whether or not this home has a database of its own (opening the swap database
        creates it, so "none here yet" would go quiet after the first command)."""
        if self.explicit:
            return None
        old = (cwd or Path.cwd()) / OLD_SWAPS_HOME
        if not (old / "swaps.db").is_file() or old.resolve() == self.root.resolve():
            return None
        return (
            f"swaps found in ./{OLD_SWAPS_HOME} (the old default home), which the home "
            f"{self.root} does not hold: pass --home ./{OLD_SWAPS_HOME} or move them"
        )


def default_home() -> Path:
    """The per-user data directory (XDG conventions on Linux; read from the process env)."""
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def resolve_home(option: Path | str | None, env: Mapping[str, str]) -> Home:
    """The home from ``--home``, ``$ETM_BRIDGE_HOME``, ``$ETM_BRIDGE_DATA_DIR``, else the default.

    Relative paths are made absolute against the current directory once, here.
    """
    if option:
        return Home(_absolute(option), "option --home")
    for name in (HOME_ENV, LEGACY_HOME_ENV):
        if env.get(name):
            return Home(_absolute(env[name]), f"environment variable {name}")
    return Home(default_home())


def _absolute(path: Path | str) -> Path:
    return Path(path).expanduser().absolute()
