"""The Bitcoin adapter's chain index: our coins, every etm-bridge lock and its spend.

Built by scanning raw blocks (``getblock <hash> 0``) from a birth height, because not every node
has ``scantxoutset`` (bcoin does not) and the node wallet must not hold our keys. It is a cache
of the chain, persisted as one JSON file under the adapter's data dir: deleting it only costs a
rescan, and a reorg below the last scanned block triggers a full rescan. Per transaction:

- an output paying our P2WPKH script becomes a coin; an input spending a coin removes it;
- a transaction with an etm-bridge marker output (v1, or v2 naming a committee policy by hash:
  ``v2.py``) records each of its P2WSH outputs as a candidate lock (the hashlock, and for v2
  the policy, are matched later, see ``script.py``);
- an input spending a candidate lock records the spend with its witness.

The adapter persists only mined blocks; unconfirmed transactions (ours included) are applied
to a throwaway copy, the mempool view (``mempool.py``), with ``height=None``.

The index itself is chain-neutral and shared with the Handshake adapter
(``etm_bridge.utxo``); this module is the Bitcoin part: how a ``CTransaction`` is read (P2WSH
outputs as lock candidates, the OP_RETURN marker), the lock record, and the coin type.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

from bitcoin.core import CTransaction

from etm_bridge.utxo import files
from etm_bridge.utxo.index import InputView, Marker, OutputView, TxView, UtxoIndex, outpoint_key

from .script import LockMarker, parse_marker
from .txbuild import Utxo
from .v2 import AnyHtlc, MarkerV2, PolicyMarker, parse_marker_v2, parse_policy, script_pubkey_of

__all__ = [
    "FORMAT_VERSION", "ChainIndex", "LockOutput", "load_index", "outpoint_key", "read_tx",
    "save_index", "scan_block", "txid_hex",
]  # fmt: skip

#: 2: only mined transactions are persisted (version 1 also kept our unconfirmed broadcasts,
#: whose coins stayed spent for ever if the node dropped the transaction): rescan those.
#: 3: the file names its chain (the index format is shared with Handshake, ``etm_bridge.utxo``).
#: 4: v2 markers (committee policies) are recorded too (``LockOutput.marker_v2_hex``).
FORMAT_VERSION = 4


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
    #: a v2 lock: its marker's 74 data bytes (the keys above are then empty)
    marker_v2_hex: str = ""
    #: a v2 lock bound to a watched policy (only in the adapter's view, never persisted)
    policy_hex: str = ""

    @property
    def is_v2(self) -> bool:
        return bool(self.marker_v2_hex)

    @property
    def marker_v2(self) -> MarkerV2:
        v2 = parse_marker_v2(b"\x6a\x4a" + bytes.fromhex(self.marker_v2_hex))
        if v2 is None:  # recorded from a parsed marker: cannot happen
            raise ValueError(f"lock {self.txid}:{self.vout} has no valid v2 marker")
        return v2

    @property
    def marker(self) -> LockMarker | PolicyMarker:
        """The v1 marker, or the v2 marker bound to its policy (ValueError if unbound)."""
        if self.is_v2:
            if not self.policy_hex:
                raise ValueError(f"lock {self.txid}:{self.vout} names a policy not watched")
            policy = parse_policy(bytes.fromhex(self.policy_hex))
            return PolicyMarker(self.marker_v2, policy)
        claim, refund = bytes.fromhex(self.claim_pubkey_hex), bytes.fromhex(self.refund_pubkey_hex)
        return LockMarker(claim, refund, self.timelock_height)

    @property
    def bound(self) -> bool:
        """True unless a v2 lock whose policy is not watched (it cannot be rebuilt)."""
        return not self.is_v2 or bool(self.policy_hex)

    def htlc(self, hashlock: bytes) -> AnyHtlc | None:
        """The script this output pays if its hashlock is ``hashlock``, else None."""
        if not self.bound:
            return None
        htlc = self.marker.htlc(hashlock)
        return htlc if script_pubkey_of(htlc).hex() == self.script_pubkey_hex else None


@dataclass(frozen=True)
class V2Candidate:
    """A marker v2 as the shared index carries it (its lock records keep the marker bytes)."""

    v2: MarkerV2
    claim_pubkey: bytes = b""
    refund_pubkey: bytes = b""

    @property
    def timelock_height(self) -> int:
        return self.v2.timelock


def read_tx(tx: CTransaction) -> TxView:
    """``tx`` as the index reads it: P2WSH outputs are lock candidates (the whole script is
    the lock program), the first output parsing as an etm-bridge marker is the marker."""
    witnesses = tx.wit.vtxinwit
    inputs = tuple(
        InputView(
            i.prevout.hash[::-1].hex(),
            i.prevout.n,
            tuple(map(bytes, witnesses[n].scriptWitness)) if witnesses else (),
        )
        for n, i in enumerate(tx.vin)
    )
    outputs: list[OutputView] = []
    markers: list[Marker] = []
    for out in tx.vout:
        script = bytes(out.scriptPubKey)
        p2wsh = len(script) == 34 and script[:2] == b"\x00\x20"
        outputs.append(OutputView(int(out.nValue), script, script if p2wsh else None))
        marker = parse_marker(script)
        if marker is not None:
            markers.append(marker)
        else:
            v2 = parse_marker_v2(script)
            if v2 is not None:
                markers.append(V2Candidate(v2))
    return TxView(txid_hex(tx), inputs, tuple(outputs), markers[0] if markers else None)


@dataclass
class ChainIndex(UtxoIndex[CTransaction, LockOutput, Utxo]):
    """The Bitcoin wallet index (``etm_bridge.utxo.index.UtxoIndex``). Outputs of our pending
    claims and refunds are :attr:`held` (they may be fee-bumped, see ``bumps.py``)."""

    CHAIN: ClassVar[str] = "bitcoin"
    FORMAT_VERSION: ClassVar[int] = FORMAT_VERSION
    HOLDS_SPEND_OUTPUTS: ClassVar[bool] = True
    LOCK = LockOutput
    COIN = Utxo

    @classmethod
    def read_tx(cls, tx: CTransaction) -> TxView:
        return read_tx(tx)

    @classmethod
    def new_lock(
        cls, txid: str, vout: int, out: OutputView, marker: Marker, height: int | None
    ) -> LockOutput:
        if not isinstance(marker, V2Candidate):
            return super().new_lock(txid, vout, out, marker, height)
        program = (out.lock_program or b"").hex()
        timelock = marker.v2.timelock
        data = marker.v2.data().hex()
        return LockOutput(txid, vout, out.value, program, "", "", timelock, height, data)


#: The saved index, or an empty one if absent, unreadable, of another chain, format or birth
#: height (a rescan, never a misreading); saving writes atomically (``etm_bridge.utxo.files``).
load_index = partial(files.load_index, ChainIndex)
save_index = files.save_index


def scan_block(index: ChainIndex, txs: Iterable[CTransaction], height: int, our: bytes) -> None:
    for tx in txs:
        index.apply_tx(tx, height, our)
