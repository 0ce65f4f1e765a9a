"""Slashing protection on disk: the highest slot each forging key signed, EIP-3076-like.

The forger asks :meth:`SlashingProtection.approve` before every block signature
(``chain.signing_guard`` has the rule: only slots above the highest signed). The record is
committed, and fsync'd, *before* ``approve`` returns, so a forger killed right after signing and
restarted, a reorg that takes its block away, or a restored chain database never lead to a second
signature for a slot. Lighthouse and the other beacon-chain validator clients keep the same kind of
record (their ``slashing_protection.sqlite``); so do we:

* File ``<data dir>/slashing_protection.sqlite``, apart from ``chain.sqlite``: deleting the chain
  to resync must not forget what a key signed. One table ``signed_blocks(genesis_id, public_key,
  slot, signing_root)``, one row per chain and key (the highest slot only; a chain made by another
  ``node init`` has another genesis id, so its records never block this one). WAL journal with
  ``synchronous=FULL`` (every commit is fsync'd; SQLite commits are atomic); the check and the
  update run in one ``BEGIN IMMEDIATE`` transaction, so an import from the CLI while the node runs
  is safe.
* Interchange (``etm-bridge node slashing-protection export|import``): the EIP-3076 format
  (version 5), with ``genesis_validators_root`` holding the ETM genesis id and an extra
  ``network_id``::

    {"metadata": {"interchange_format_version": "5",
                  "genesis_validators_root": "0x<genesis id>", "network_id": "0x45544d01"},
     "data": [{"pubkey": "0x<ed25519 key>",
               "signed_blocks": [{"slot": "81952", "signing_root": "0x<signing root>"}],
               "signed_attestations": []}]}

  ``signing_root`` is what the key signed: ``BlockHeader.signing_root(genesis id)``, the header
  in this chain's signing domain (the genesis id is in it, as in EIP-3076's signing roots).
  An import must name this chain (genesis id and network id); each listed key's record becomes
  the larger of its current and its highest imported slot (EIP-3076's conservative merge), all or
  nothing. An operator moving a key to another machine exports here, imports there, and only then
  starts the forger there. A slot must be a plain decimal below 2**32 (no header can have a later
  one); a record after the current slot is imported (it may be a real signature made with a clock
  running ahead) but the CLI warns that the key will not forge before it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..chain.signing_guard import refusal
from ..errors import ConfigError, ValidationError
from ..sqlite_records import open_record

FILE_NAME = "slashing_protection.sqlite"
FORMAT_VERSION = "5"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS signed_blocks (
    genesis_id BLOB NOT NULL, public_key BLOB NOT NULL, slot INTEGER NOT NULL,
    signing_root BLOB, PRIMARY KEY (genesis_id, public_key)) WITHOUT ROWID;
"""


class SlashingProtection:
    """The record for one chain (``genesis_id``, ``network_id``) in one SQLite file."""

    def __init__(self, path: Path, genesis_id: bytes, network_id: int):
        self.path = Path(path)
        self.genesis_id = genesis_id
        self.network_id = network_id
        self._conn = open_record(
            self.path, _SCHEMA, "slashing-protection database",
            "restore it from a backup or import an interchange file into a new one: never forge "
            "without it",
        )  # fmt: skip

    def close(self) -> None:
        self._conn.close()

    # --- the guard ------------------------------------------------------------------------------

    def highest(self, public_key: bytes) -> int | None:
        row = self._conn.execute(
            "SELECT slot FROM signed_blocks WHERE genesis_id=? AND public_key=?",
            (self.genesis_id, public_key),
        ).fetchone()
        return None if row is None else int(row[0])

    def approve(self, public_key: bytes, slot: int, signing_root: bytes) -> None:
        """Record that ``public_key`` signs ``signing_root`` at ``slot`` (durably, before the
        signature exists), or raise SigningRefusedError if it signed this slot or a later one."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            error = refusal(public_key, slot, self.highest(public_key))
            if error is not None:
                raise error
            self._put(public_key, slot, signing_root)
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _put(self, public_key: bytes, slot: int, signing_root: bytes | None) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO signed_blocks VALUES (?, ?, ?, ?)",
            (self.genesis_id, public_key, slot, signing_root),
        )

    # --- interchange ----------------------------------------------------------------------------

    def export(self, keys: Iterable[bytes] | None = None) -> dict[str, Any]:
        """The EIP-3076-shaped record of ``keys`` (default: every key with a record)."""
        rows = self._conn.execute(
            "SELECT public_key, slot, signing_root FROM signed_blocks WHERE genesis_id=?"
            " ORDER BY public_key",
            (self.genesis_id,),
        ).fetchall()
        wanted = None if keys is None else set(keys)
        data = []
        for pk, slot, root in rows:
            if wanted is not None and bytes(pk) not in wanted:
                continue
            block: dict[str, str] = {"slot": str(slot)}
            if root is not None:
                block["signing_root"] = "0x" + bytes(root).hex()
            data.append({"pubkey": "0x" + bytes(pk).hex(), "signed_blocks": [block],
                         "signed_attestations": []})  # fmt: skip
        return {"metadata": self._metadata(), "data": data}

    def _metadata(self) -> dict[str, str]:
        return {
            "interchange_format_version": FORMAT_VERSION,
            "genesis_validators_root": "0x" + self.genesis_id.hex(),
            "network_id": f"0x{self.network_id:08x}",
        }

    def import_(self, document: Any) -> dict[str, int]:
        """Merge an interchange document (all or nothing); returns {key hex: resulting slot}."""
        highest = parse_interchange(document, self.genesis_id, self.network_id)
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            for pk, (slot, root) in highest.items():
                current = self.highest(pk)
                if current is None or slot > current:
                    self._put(pk, slot, root)
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")
        return {pk.hex(): self.highest(pk) or 0 for pk in highest}


def _hex(text: Any, what: str, length: int | None) -> bytes:
    if not isinstance(text, str) or not text.startswith("0x"):
        raise ValidationError(f"slashing-protection import: {what} must be a 0x-hex string")
    try:
        raw = bytes.fromhex(text[2:])
    except ValueError:
        raise ValidationError(f"slashing-protection import: {what} is not hex: {text!r}") from None
    if length is not None and len(raw) != length:
        raise ValidationError(f"slashing-protection import: {what} must be {length} bytes")
    return raw


#: No header has a slot at or above this: timestamps are u32 seconds and slots are at least 1 s.
SLOT_LIMIT = 2**32


def _slot(text: Any, where: str) -> int:
    # str.isdigit alone also accepts "²" (int() raises) and other scripts' digits
    if not isinstance(text, str) or not (text.isascii() and text.isdigit()) or len(text) > 20:
        raise ValidationError(f"slashing-protection import: {where} slot must be a decimal string")
    slot = int(text)
    if slot >= SLOT_LIMIT:
        raise ValidationError(
            f"slashing-protection import: {where} slot {slot} is beyond any slot a block can have"
            f" (< 2**32): not the record of a real signature, and importing it would stop the"
            " key forging for good"
        )
    return slot


def parse_interchange(
    document: Any, genesis_id: bytes, network_id: int
) -> dict[bytes, tuple[int, bytes | None]]:
    """Validate an interchange document for this chain: {key: (highest slot, its root)}."""
    if not isinstance(document, dict) or not isinstance(document.get("metadata"), dict):
        raise ValidationError("slashing-protection import: not an interchange document (metadata)")
    meta = document["metadata"]
    if meta.get("interchange_format_version") != FORMAT_VERSION:
        raise ValidationError(
            "slashing-protection import: interchange_format_version must be"
            f" {FORMAT_VERSION!r}, got {meta.get('interchange_format_version')!r}"
        )
    root = _hex(meta.get("genesis_validators_root"), "genesis_validators_root", 32)
    if root != genesis_id:
        raise ConfigError(
            f"slashing-protection import: the file is for chain {root.hex()[:16]}…, this node's"
            f" genesis is {genesis_id.hex()[:16]}…: import it into the node of that chain"
        )
    if "network_id" in meta and meta["network_id"] != f"0x{network_id:08x}":
        raise ConfigError(
            f"slashing-protection import: the file is for network {meta['network_id']},"
            f" this node's is 0x{network_id:08x}"
        )
    if not isinstance(document.get("data"), list):
        raise ValidationError("slashing-protection import: data must be a list")
    out: dict[bytes, tuple[int, bytes | None]] = {}
    for i, entry in enumerate(document["data"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("signed_blocks", []), list):
            raise ValidationError(f"slashing-protection import: data[{i}] is malformed")
        pk = _hex(entry.get("pubkey"), f"data[{i}].pubkey", 32)
        for j, block in enumerate(entry.get("signed_blocks", [])):
            where = f"data[{i}].signed_blocks[{j}]"
            if not isinstance(block, dict):
                raise ValidationError(f"slashing-protection import: {where} is malformed")
            slot = _slot(block.get("slot"), where)
            raw_root = block.get("signing_root")
            signing_root = None if raw_root is None else _hex(raw_root, where, 32)
            if pk not in out or slot > out[pk][0]:
                out[pk] = (slot, signing_root)
    return out


def load_interchange(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path} not found") from None
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{path} is not JSON: {exc}") from None
