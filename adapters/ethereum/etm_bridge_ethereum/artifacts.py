"""The compiled contracts this adapter drives, loaded from the committed artifacts.

The artifacts are built by ``contracts/ethereum/compile.py`` (pinned solcjs, fixed settings)
and committed under ``contracts/ethereum/artifacts/``. The package reaches them through its
``artifacts_data`` symlink, which a wheel build follows (package data), so an editable and a
normal install both find them; the ``ETM_BRIDGE_ETH_ARTIFACTS`` environment variable names
another directory. An artifact that is not the one the adapter was written for (contract name,
version constant present) is refused.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from etm_bridge.errors import ConfigError

#: The package's artifacts_data (a symlink to contracts/ethereum/artifacts in the repository,
#: a real directory in an installed wheel).
DEFAULT_DIR = Path(__file__).resolve().parent / "artifacts_data"
HTLC = "EtherSwapHTLC"
TEST_TOKEN = "TestToken"


@dataclass(frozen=True)
class Artifact:
    """One compiled contract: its ABI and creation/runtime bytecode (``0x`` hex)."""

    name: str
    abi: tuple[dict[str, Any], ...]
    bytecode: str
    deployed_bytecode: str
    compiler_version: str
    source_sha256: str


def artifacts_dir() -> Path:
    return Path(os.environ.get("ETM_BRIDGE_ETH_ARTIFACTS", DEFAULT_DIR))


@cache
def load(name: str) -> Artifact:
    """Load the artifact of contract ``name`` (cached); ConfigError if missing or malformed."""
    path = artifacts_dir() / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        artifact = Artifact(
            name=data["contractName"],
            abi=tuple(data["abi"]),
            bytecode=data["bytecode"],
            deployed_bytecode=data["deployedBytecode"],
            compiler_version=data["compiler"]["version"],
            source_sha256=data["sourceSha256"],
        )
    except FileNotFoundError as exc:
        raise ConfigError(
            f"contract artifact {path} not found: run contracts/ethereum/compile.py "
            "or set ETM_BRIDGE_ETH_ARTIFACTS"
        ) from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"contract artifact {path} is malformed: {exc}") from exc
    if artifact.name != name or len(artifact.bytecode) < 4:
        raise ConfigError(f"contract artifact {path} is not a compiled {name}")
    return artifact
