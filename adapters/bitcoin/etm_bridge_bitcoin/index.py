"""The Bitcoin adapter's chain index: our coins, every etm-bridge lock and its spend.

Built by scanning raw blocks (``getblock <hash> 0``) from a birth height, because not every node
has ``scantxoutset`` (bcoin does not) and the node wallet must not hold our keys. It is a cache
of the chain, persisted as one JSON file under the adapter's data dir: deleting it only costs a
rescan, and a reorg below the last scanned block triggers a full rescan. Per transaction:

- an output paying our P2WPKH script becomes a coin; an input spending a coin removes it;
- a transaction with an etm-bridge marker output records each of its P2WSH outputs as a
  candidate lock (the hashlock is matched later, see ``script.py``);
- an input spending a candidate lock records the spend with its witness.

The adapter persists only mined blocks; unconfirmed transactions (ours included) are applied
to a throwaway copy, the mempool view (``mempool.py``), with ``height=None``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bitcoin.core import CTransaction

from .script import LockMarker, parse_marker
from .txbuild import Utxo

#: How many recent (height, hash) pairs are kept to detect a reorg.
KEEP_TIP_HASHES = 50
#: 2: only mined transactions are persisted (version 1 also kept our unconfirmed broadcasts,
#: whose coins stayed spent for ever if the node dropped the transaction): rescan those.
FORMAT_VERSION = 2


def txid_hex(tx: CTransaction) -> str:
    return tx.GetTxid()[::-1].hex()


def outpoint_key(txid: str, vout: int) -> str:
    return f"{txid}:{vout}"


@dataclass
class LockOutput:
    """A P2WSH output of a marker transaction: a lock for whoever knows its hashlock."""

    txid: str
    vout: int
    value_sat: int
    script_pubkey_hex: str
    claim_pubkey_hex: str
    refund_pubkey_hex: str
    timelock_height: int
    height: int | None

    @property
    def marker(self) -> LockMarker:
        claim, refund = bytes.fromhex(self.claim_pubkey_hex), bytes.fromhex(self.refund_pubkey_hex)
        return LockMarker(claim, refund, self.timelock_height)


@dataclass
class SpendRecord:
    """The transaction input that spent a lock output, with its witness."""

    txid: str
    height: int | None
    witness_hex: list[str]

    @property
    def witness(self) -> list[bytes]:
        return [bytes.fromhex(item) for item in self.witness_hex]


@dataclass
class ChainIndex:
    """Mutable index state. ``coins`` values are [value_sat, height or None]."""

    birth_height: int
    tips: list[tuple[int, str]] = field(default_factory=list)
    coins: dict[str, list[Any]] = field(default_factory=dict)
    pending_spent: set[str] = field(default_factory=set)
    locks: dict[str, LockOutput] = field(default_factory=dict)
    spends: dict[str, SpendRecord] = field(default_factory=dict)
    #: Unconfirmed coins of our pending claims and refunds (a transaction spending a lock) and
    #: of their CPFP children: not spendable until mined, since a wallet payment spending one
    #: would make the spend unbumpable (a descendant paying someone else; a replacement would
    #: evict it). Only the mempool view has them (the saved index holds mined blocks only).
    held: set[str] = field(default_factory=set)

    @property
    def next_height(self) -> int:
        return self.tips[-1][0] + 1 if self.tips else self.birth_height

    def record_tip(self, height: int, block_hash: str) -> None:
        self.tips = [*self.tips, (height, block_hash)][-KEEP_TIP_HASHES:]

    def apply_tx(self, tx: CTransaction, height: int | None, our_script: bytes) -> None:
        """Update coins, locks and spends for one (mined or just broadcast) transaction."""
        txid = txid_hex(tx)
        keys = [outpoint_key(i.prevout.hash[::-1].hex(), i.prevout.n) for i in tx.vin]
        bumpable = height is None and any(k in self.locks or k in self.held for k in keys)
        for index, key in enumerate(keys):
            self.coins.pop(key, None)
            self.held.discard(key)
            if height is not None:
                self.pending_spent.discard(key)
            else:
                self.pending_spent.add(key)
            if key in self.locks and (height is not None or key not in self.spends):
                witness = list(tx.wit.vtxinwit[index].scriptWitness) if tx.wit.vtxinwit else []
                self.spends[key] = SpendRecord(txid, height, [bytes(w).hex() for w in witness])
        self._apply_outputs(tx, txid, height, our_script)
        if bumpable:
            outs = (outpoint_key(txid, vout) for vout in range(len(tx.vout)))
            self.held.update(k for k in outs if k in self.coins)

    def _apply_outputs(
        self, tx: CTransaction, txid: str, height: int | None, our_script: bytes
    ) -> None:
        markers = [m for m in (parse_marker(bytes(o.scriptPubKey)) for o in tx.vout) if m]
        for vout, out in enumerate(tx.vout):
            script = bytes(out.scriptPubKey)
            key = outpoint_key(txid, vout)
            if script == our_script and key not in self.pending_spent:
                self.coins[key] = [int(out.nValue), height]
            if markers and len(script) == 34 and script[:2] == b"\x00\x20":
                m = markers[0]
                self.locks[key] = LockOutput(
                    txid, vout, int(out.nValue), script.hex(), m.claim_pubkey.hex(),
                    m.refund_pubkey.hex(), m.timelock_height, height,
                )  # fmt: skip

    def spendable(self) -> list[Utxo]:
        """Our coins not already spent by a transaction we broadcast (unconfirmed included),
        except the outputs of our pending claims and refunds (:attr:`held`)."""
        result = []
        for key, (value, _height) in sorted(self.coins.items()):
            if key not in self.pending_spent and key not in self.held:
                txid, vout = key.split(":")
                result.append(Utxo(txid, int(vout), int(value)))
        return result

    def confirmed_balance(self) -> int:
        return sum(
            int(value)
            for key, (value, height) in self.coins.items()
            if height is not None and key not in self.pending_spent
        )

    # --- persistence --------------------------------------------------------------------------

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


def scan_block(index: ChainIndex, txs: Iterable[CTransaction], height: int, our: bytes) -> None:
    for tx in txs:
        index.apply_tx(tx, height, our)
