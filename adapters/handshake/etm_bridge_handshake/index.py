"""The Handshake adapter's chain index: our coins, every etm-bridge lock and its spend.

Built by scanning raw blocks (``getblock <hash> false``) from a birth height: hsd has no
``scantxoutset`` and serves mined transactions only with ``--index-tx``, and the node wallet
never holds our keys. It is a cache of the chain, one JSON file under the adapter's data dir:
deleting it only costs a rescan; a reorg below the last scanned block triggers a full rescan.
Per transaction:

- an output paying our pay-to-key address becomes a coin; an input spending a coin removes it;
- a transaction with an etm-bridge marker (``script.parse_marker``) records each of its v0/32
  (pay-to-script) outputs as a candidate lock; the hashlock is matched later;
- an input spending a candidate lock records the spend with its witness.

Only mined blocks are persisted; unconfirmed transactions are applied to a throwaway copy (the
mempool view, ``mempool.py``) with ``height=None``. Same design as the Bitcoin adapter's index.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .codec import Tx
from .script import LockMarker, parse_marker
from .txbuild import Coin

KEEP_TIP_HASHES = 50
FORMAT_VERSION = 1


def outpoint_key(txid: str, vout: int) -> str:
    return f"{txid}:{vout}"


@dataclass
class LockOutput:
    """A pay-to-script output of a marker transaction: a lock for whoever knows its hashlock."""

    txid: str
    vout: int
    value: int
    address_hash_hex: str
    claim_pubkey_hex: str
    refund_pubkey_hex: str
    timelock_height: int
    height: int | None

    @property
    def marker(self) -> LockMarker:
        claim, refund = bytes.fromhex(self.claim_pubkey_hex), bytes.fromhex(self.refund_pubkey_hex)
        return LockMarker(claim, refund, self.timelock_height)

    def pays(self, hashlock: bytes) -> bool:
        """True if this output is the HTLC of ``hashlock`` under the marker's terms."""
        return self.marker.htlc(hashlock).address.hash.hex() == self.address_hash_hex


@dataclass
class SpendRecord:
    txid: str
    height: int | None
    witness_hex: list[str]

    @property
    def witness(self) -> list[bytes]:
        return [bytes.fromhex(item) for item in self.witness_hex]


@dataclass
class ChainIndex:
    """Mutable index state. ``coins`` values are [value, height or None]."""

    birth_height: int
    tips: list[tuple[int, str]] = field(default_factory=list)
    coins: dict[str, list[Any]] = field(default_factory=dict)
    pending_spent: set[str] = field(default_factory=set)
    locks: dict[str, LockOutput] = field(default_factory=dict)
    spends: dict[str, SpendRecord] = field(default_factory=dict)

    @property
    def next_height(self) -> int:
        return self.tips[-1][0] + 1 if self.tips else self.birth_height

    def record_tip(self, height: int, block_hash: str) -> None:
        self.tips = [*self.tips, (height, block_hash)][-KEEP_TIP_HASHES:]

    def apply_tx(self, tx: Tx, height: int | None, our_address: bytes) -> None:
        """Update coins, locks and spends for one (mined or unconfirmed) transaction."""
        txid = tx.txid_hex
        for txin in tx.inputs:
            key = outpoint_key(*txin.outpoint)
            self.coins.pop(key, None)
            if height is not None:
                self.pending_spent.discard(key)
            else:
                self.pending_spent.add(key)
            if key in self.locks and (height is not None or key not in self.spends):
                self.spends[key] = SpendRecord(txid, height, [w.hex() for w in txin.witness])
        marker = parse_marker(tx)
        for vout, out in enumerate(tx.outputs):
            key = outpoint_key(txid, vout)
            if out.address.key == our_address and key not in self.pending_spent:
                self.coins[key] = [out.value, height]
            if marker and out.address.version == 0 and len(out.address.hash) == 32:
                self.locks[key] = LockOutput(
                    txid, vout, out.value, out.address.hash.hex(), marker.claim_pubkey.hex(),
                    marker.refund_pubkey.hex(), marker.timelock_height, height,
                )  # fmt: skip

    def spendable(self) -> list[Coin]:
        """Our coins not already spent by a transaction we broadcast (unconfirmed included)."""
        result = []
        for key, (value, _height) in sorted(self.coins.items()):
            if key not in self.pending_spent:
                txid, vout = key.split(":")
                result.append(Coin(txid, int(vout), int(value)))
        return result

    def confirmed_balance(self) -> int:
        return sum(
            int(value)
            for key, (value, height) in self.coins.items()
            if height is not None and key not in self.pending_spent
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "birth_height": self.birth_height,
            "tips": self.tips,
            "coins": self.coins,
            "pending_spent": sorted(self.pending_spent),
            "locks": {k: asdict(v) for k, v in self.locks.items()},
            "spends": {k: asdict(v) for k, v in self.spends.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChainIndex:
        return cls(
            birth_height=int(data["birth_height"]),
            tips=[(int(h), str(b)) for h, b in data["tips"]],
            coins={k: list(v) for k, v in data["coins"].items()},
            pending_spent=set(data["pending_spent"]),
            locks={k: LockOutput(**v) for k, v in data["locks"].items()},
            spends={k: SpendRecord(**v) for k, v in data["spends"].items()},
        )


def load_index(path: Path, birth_height: int) -> ChainIndex:
    """The saved index, or an empty one if absent, unreadable, or of another birth height."""
    try:
        data = json.loads(path.read_text())
        if data.get("version") == FORMAT_VERSION and data["birth_height"] == birth_height:
            return ChainIndex.from_json(data)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return ChainIndex(birth_height)


def save_index(path: Path, index: ChainIndex) -> None:
    """Write atomically (temp file + rename) so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(index.to_json()))
    os.replace(tmp, path)
