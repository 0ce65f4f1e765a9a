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

The index itself is chain-neutral and shared with the Handshake adapter
(``etm_bridge.utxo``); this module is the Bitcoin part: how a ``CTransaction`` is read (P2WSH
outputs as lock candidates, the OP_RETURN marker), the lock record, and the coin type.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from bitcoin.core import CTransaction

from etm_bridge.utxo import files
from etm_bridge.utxo.index import (
    KEEP_TIP_HASHES,
    InputView,
    Marker,
    OutputView,
    SpendRecord,
    TxView,
    UtxoIndex,
    outpoint_key,
)

from .script import LockMarker, parse_marker
from .txbuild import Utxo

__all__ = [
    "FORMAT_VERSION", "KEEP_TIP_HASHES", "ChainIndex", "LockOutput", "SpendRecord",
    "load_index", "outpoint_key", "read_tx", "save_index", "scan_block", "txid_hex",
]  # fmt: skip

#: 2: only mined transactions are persisted (version 1 also kept our unconfirmed broadcasts,
#: whose coins stayed spent for ever if the node dropped the transaction): rescan those.
#: 3: the file names its chain (the index format is shared with Handshake, ``etm_bridge.utxo``).
FORMAT_VERSION = 3


def txid_hex(tx: CTransaction) -> str:
    return tx.GetTxid()[::-1].hex()


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


def read_tx(tx: CTransaction) -> TxView:
    """``tx`` as the index reads it: P2WSH outputs are lock candidates (the whole script is
    the lock program), the first output parsing as an etm-bridge marker is the marker."""
    witnesses = tx.wit.vtxinwit
    inputs = tuple(
        InputView(
            i.prevout.hash[::-1].hex(),
            i.prevout.n,
            tuple(bytes(w) for w in witnesses[n].scriptWitness) if witnesses else (),
        )
        for n, i in enumerate(tx.vin)
    )
    outputs, markers = [], []
    for out in tx.vout:
        script = bytes(out.scriptPubKey)
        p2wsh = len(script) == 34 and script[:2] == b"\x00\x20"
        outputs.append(OutputView(int(out.nValue), script, script if p2wsh else None))
        marker = parse_marker(script)
        if marker is not None:
            markers.append(marker)
    return TxView(txid_hex(tx), inputs, tuple(outputs), markers[0] if markers else None)


@dataclass
class ChainIndex(UtxoIndex[CTransaction, LockOutput, Utxo]):
    """The Bitcoin wallet index (``etm_bridge.utxo.index.UtxoIndex``). Outputs of our pending
    claims and refunds are :attr:`held` (they may be fee-bumped, see ``bumps.py``)."""

    CHAIN: ClassVar[str] = "bitcoin"
    FORMAT_VERSION: ClassVar[int] = FORMAT_VERSION
    HOLDS_SPEND_OUTPUTS: ClassVar[bool] = True

    @classmethod
    def read_tx(cls, tx: CTransaction) -> TxView:
        return read_tx(tx)

    @classmethod
    def new_lock(
        cls, txid: str, vout: int, out: OutputView, marker: Marker, height: int | None
    ) -> LockOutput:
        return LockOutput(
            txid, vout, out.value, out.payee.hex(), marker.claim_pubkey.hex(),
            marker.refund_pubkey.hex(), marker.timelock_height, height,
        )  # fmt: skip

    @classmethod
    def lock_from_json(cls, data: Mapping[str, Any]) -> LockOutput:
        return LockOutput(**data)

    @classmethod
    def new_coin(cls, txid: str, vout: int, value: int) -> Utxo:
        return Utxo(txid, vout, value)


def load_index(path: Path, birth_height: int) -> ChainIndex:
    """The saved index, or an empty one if absent, unreadable, of another chain, format or
    birth height (a rescan, never a misreading)."""
    return files.load_index(ChainIndex, path, birth_height)


def save_index(path: Path, index: ChainIndex) -> None:
    """Write atomically (temp file + rename) so a crash never leaves half a file."""
    files.save_index(path, index)


def scan_block(index: ChainIndex, txs: Iterable[CTransaction], height: int, our: bytes) -> None:
    for tx in txs:
        index.apply_tx(tx, height, our)
