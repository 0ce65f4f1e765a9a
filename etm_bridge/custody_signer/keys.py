"""``<data dir>/custody_keys.json``: the custody signer's secrets (design-14 section 5.1).

``{"agent": hex ed25519 seed, "<ticker>": hex secret, ...}``, 0600 through
:mod:`etm_bridge.private_files`, one secret per custody chain the signer can sign for (a chain
whose folder has a ``custody/signing.py``). Created once by ``etm-bridge node custody init``
(random; never overwritten: losing it loses the member's signing power, and a copy elsewhere
is a second signer with the same record-less key). Never in ``forging_keys.json``, never read
by the node process.
"""

from __future__ import annotations

import importlib
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from ..chains.registry import chain_registry
from ..errors import ConfigError
from ..private_files import read_private, write_private

FILE_NAME = "custody_keys.json"


def signing_kit(ticker: str) -> ModuleType | None:
    """The chain's signer part (``etm_bridge.chains.<name>.custody.signing``), if it has one."""
    for profile in chain_registry():
        if profile.ticker == ticker and profile.custody is not None:
            try:
                return importlib.import_module(f"etm_bridge.chains.{profile.name}.custody.signing")
            except ModuleNotFoundError:
                return None
    return None


def _new_secret(kit: ModuleType) -> bytes:
    while True:
        raw = secrets.token_bytes(32)
        if kit.valid_secret(raw):
            return raw


@dataclass(frozen=True)
class CustodyKeys:
    agent_seed: bytes
    secrets: dict[str, bytes]  # ticker -> the chain's custody secret

    def public_key(self, ticker: str) -> bytes:
        kit = signing_kit(ticker)
        if kit is None or ticker not in self.secrets:
            raise ConfigError(f"no custody key for chain {ticker!r} in {FILE_NAME}")
        return bytes(kit.public_key(self.secrets[ticker]))


def create(data_dir: Path, chains: tuple[str, ...]) -> CustodyKeys:
    """Write new random keys for those of ``chains`` that have a signer part (refused if the
    file exists; the others get no key: :func:`signing_kit` is None for them)."""
    made: dict[str, bytes] = {}
    for ticker in chains:
        kit = signing_kit(ticker)
        if kit is not None:
            made[ticker] = _new_secret(kit)
    if not made:
        raise ConfigError(f"none of the custody chains {list(chains)} has a signer on this version")
    keys = CustodyKeys(secrets.token_bytes(32), made)
    body = {"agent": keys.agent_seed.hex(), **{t: s.hex() for t, s in made.items()}}
    write_private(Path(data_dir) / FILE_NAME, json.dumps(body, indent=2) + "\n", overwrite=False)
    return keys


def load(data_dir: Path) -> CustodyKeys:
    path = Path(data_dir) / FILE_NAME
    text = read_private(path)
    if text is None:
        raise ConfigError(
            f"{path} not found: run `etm-bridge node custody init --data-dir {data_dir}`"
        )
    try:
        raw = json.loads(text)
        agent = bytes.fromhex(raw.pop("agent"))
        found = {str(t): bytes.fromhex(v) for t, v in raw.items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ConfigError(
            f'{path} is not a custody key file ({{"agent": hex, ticker: hex}})'
        ) from None
    if len(agent) != 32 or any(len(v) != 32 for v in found.values()):
        raise ConfigError(f"{path}: every key must be 32 bytes (64 hex digits)")
    return CustodyKeys(agent, found)
