"""One config and one home for every command (docs/config.md).

- :mod:`.home`: the home directory (``--home``, ``$ETM_BRIDGE_HOME``, else the per-user data
  directory, never the current one) and the files in it.
- :mod:`.schema`: the known keys, their types, defaults and environment names (no chain named).
- :mod:`.sources`: the layers: the local stack's ``client.toml``, the config file, the
  environment; the legacy forms still read.
- :mod:`.loader`: :func:`load_config`, the one merge.
- :mod:`.model`: :class:`Config`, typed reads and the adapters' ``from_config`` options.
- :mod:`.passphrase`: the keystore passphrase, the same way for every command.
"""

from .home import HOME_ENV, LEGACY_HOME_ENV, Home, default_home, resolve_home
from .loader import load_config
from .model import ETM, ChainSecrets, Config
from .passphrase import resolve_passphrase
from .schema import NETWORKS, SETTINGS, env_name
from .sources import CONFIG_ENV, PASSPHRASE_ENV, STACK_CLIENT_FILE, STACK_DIR_ENV

__all__ = [
    "CONFIG_ENV",
    "ETM",
    "HOME_ENV",
    "LEGACY_HOME_ENV",
    "NETWORKS",
    "PASSPHRASE_ENV",
    "SETTINGS",
    "STACK_CLIENT_FILE",
    "STACK_DIR_ENV",
    "ChainSecrets",
    "Config",
    "Home",
    "default_home",
    "env_name",
    "load_config",
    "resolve_home",
    "resolve_passphrase",
]
