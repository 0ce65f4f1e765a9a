"""One wallet index with a lock per chain on the shared UTXO index (``etm_bridge.utxo``), for the
chains' index tests and the tests every such index must pass (``tests/unit/utxo``). Importable
by name from any test (``tests/`` is on ``sys.path``)."""

from __future__ import annotations

from bitcoin.core import COutPoint, CScript, CTransaction, CTxIn, CTxOut, lx
from etm_bridge_bitcoin import index as btc_index
from etm_bridge_bitcoin import txbuild as btc_txbuild
from etm_bridge_bitcoin.script import HtlcScript as BtcHtlc
from etm_bridge_handshake import index as hns_index
from etm_bridge_handshake import txbuild as hns_txbuild
from etm_bridge_handshake.codec import Input, Output, Tx
from etm_bridge_handshake.script import HtlcScript as HnsHtlc
from etm_bridge_handshake.sighash import WalletKey as HnsKey

from etm_bridge.hashlock import hashlock_of


class Bitcoin:
    """We fund 500_000 sat at height 101 and broadcast a 200_000 sat lock to THEM."""

    name = "bitcoin"
    save, load = staticmethod(btc_index.save_index), staticmethod(btc_index.load_index)
    US = btc_txbuild.WalletKey(b"\x0a" * 32)
    THEM = btc_txbuild.WalletKey(b"\x0b" * 32)
    PREIMAGE = b"\x42" * 32
    HTLC = BtcHtlc(hashlock_of(PREIMAGE), THEM.pubkey, US.pubkey, 300)

    @classmethod
    def funding(cls, value: int) -> CTransaction:
        """A transaction paying ``value`` to us (its input is made up)."""
        return CTransaction(
            [CTxIn(COutPoint(lx("ee" * 32), 0))], [CTxOut(value, CScript(cls.US.script_pubkey))]
        )

    @classmethod
    def index_with_lock(cls) -> tuple[btc_index.ChainIndex, CTransaction, CTransaction]:
        index = btc_index.ChainIndex(birth_height=100)
        funding = cls.funding(500_000)
        index.apply_tx(funding, 101, cls.US.script_pubkey)
        lock, _ = btc_txbuild.build_lock_tx(cls.US, index.spendable(), cls.HTLC, 200_000, 2)
        index.apply_tx(lock, None, cls.US.script_pubkey)  # as when we broadcast it
        return index, funding, lock


class Handshake:
    """We fund 9_000_000 dollarydoos at height 101 and broadcast a 5_000_000 lock to THEM."""

    name = "handshake"
    save, load = staticmethod(hns_index.save_index), staticmethod(hns_index.load_index)
    US, THEM = HnsKey(b"\x01" * 32), HnsKey(b"\x02" * 32)
    PREIMAGE = b"\x07" * 32
    HTLC = HnsHtlc(hashlock_of(PREIMAGE), THEM.pubkey, US.pubkey, 500)
    OUR = US.address.key

    @classmethod
    def funding(cls, value: int) -> Tx:
        """A transaction paying ``value`` to us (its input is made up)."""
        return Tx((Input(b"\xee" * 32, 0),), (Output(value, cls.US.address),))

    @classmethod
    def index_with_lock(cls) -> tuple[hns_index.ChainIndex, Tx, Tx]:
        index = hns_index.ChainIndex(birth_height=100)
        funding = cls.funding(9_000_000)
        index.apply_tx(funding, 101, cls.OUR)
        lock, _ = hns_txbuild.build_lock_tx(cls.US, index.spendable(), cls.HTLC, 5_000_000, 20)
        index.apply_tx(lock, None, cls.OUR)  # as when we broadcast it
        return index, funding, lock
