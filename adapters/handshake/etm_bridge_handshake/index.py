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
mempool view, ``mempool.py``) with ``height=None``. The index itself is chain-neutral and shared
with the Bitcoin adapter (``etm_bridge.utxo``); this module is the Handshake part: how the hsd
codec's ``Tx`` is read (v0/32 outputs as lock candidates, the nulldata marker), the lock record,
and the coin type.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import ClassVar

from etm_bridge.utxo import files
from etm_bridge.utxo.index import InputView, OutputView, TxView, UtxoIndex, outpoint_key

from .codec import Tx
from .script import LockMarker, parse_marker
from .txbuild import Coin

__all__ = [
    "FORMAT_VERSION", "ChainIndex", "LockOutput", "load_index", "outpoint_key", "read_tx",
    "save_index",
]  # fmt: skip

#: 2: the file names its chain (the index format is shared with Bitcoin, ``etm_bridge.utxo``).
FORMAT_VERSION = 2


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


def read_tx(tx: Tx) -> TxView:
    """``tx`` as the index reads it: v0/32 (pay-to-script) outputs are lock candidates (the
    script hash is the lock program); the marker is ``script.parse_marker``'s."""
    inputs = tuple(InputView(*txin.outpoint, tuple(txin.witness)) for txin in tx.inputs)
    outputs = tuple(
        OutputView(
            out.value,
            out.address.key,
            out.address.hash if out.address.version == 0 and len(out.address.hash) == 32 else None,
        )
        for out in tx.outputs
    )
    return TxView(tx.txid_hex, inputs, outputs, parse_marker(tx))


@dataclass
class ChainIndex(UtxoIndex[Tx, LockOutput, Coin]):
    """The Handshake wallet index (``etm_bridge.utxo.index.UtxoIndex``)."""

    CHAIN: ClassVar[str] = "handshake"
    FORMAT_VERSION: ClassVar[int] = FORMAT_VERSION
    LOCK = LockOutput
    COIN = Coin

    @classmethod
    def read_tx(cls, tx: Tx) -> TxView:
        return read_tx(tx)


#: The saved index, or an empty one if absent, unreadable, of another chain, format or birth
#: height (a rescan, never a misreading); saving writes atomically (``etm_bridge.utxo.files``).
load_index = partial(files.load_index, ChainIndex)
save_index = files.save_index
