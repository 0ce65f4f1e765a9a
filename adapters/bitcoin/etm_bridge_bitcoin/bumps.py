"""Fee bumps of our unconfirmed claims and refunds on Bitcoin (the FEE_BUMPS capability).

- **Reading** (:func:`package_of`): the spend and its in-mempool descendants
  (``getmempooldescendants``, both nodes answer it) form the live package; its effective rate is
  the package's fees over its vsize. A descendant can only be a CPFP child of ours: the spend
  pays our key alone.
- **Replacement** (BIP125; Bitcoin Core, whose v30 accepts replacements of any transaction): the
  claim or refund is rebuilt at the new rate, same input, same destination (our key).
- **CPFP** (bcoin, which has no replacement: it refuses a conflicting transaction with -26
  ``bad-txns-inputs-spent``, checked in tests/integration/bitcoin/test_btc_bumps.py): a child
  spends the package's last output (ours) back to our key, paying what lifts the package to the
  new rate. bcoin's miner orders by the higher of a transaction's own and its descendants' rate,
  so the package is mined at the child's rate.

Every transaction built here pays our own P2WPKH script and nothing else
(:func:`check_pays_only`); the rate never exceeds the adapter's ``max_fee_sat_vb``. The
wallet does not spend a pending spend's outputs (``index.ChainIndex.held``), so no payment of
ours becomes a descendant that makes the spend unbumpable.
"""

from __future__ import annotations

from dataclasses import dataclass

from bitcoin.core import CScript, CTransaction, CTxOut

from etm_bridge.errors import DustError, ValidationError

from .index import txid_hex
from .txbuild import (
    _DUMMY_SIG,
    DUST_P2WPKH_SAT,
    Utxo,
    WalletKey,
    _sign_p2wpkh_inputs,
    _tx,
    _txin,
    vsize,
)


@dataclass(frozen=True)
class Package:
    """The live spend and its descendants: totals and the last output (ours) to spend."""

    fee: int
    vsize: int
    tip_txid: str
    tip_value: int

    @property
    def rate(self) -> int:
        return self.fee // max(1, self.vsize)


def package_of(
    spend_tx: CTransaction, lock_value: int, descendants: list[CTransaction], our_script: bytes
) -> Package:
    """The package of ``spend_tx`` (spending a lock of ``lock_value`` sat) and ``descendants``
    (its in-mempool children, any order). The tip is the last of our outputs not spent in it."""
    fee = lock_value - sum(o.nValue for o in spend_tx.vout)
    size = vsize(spend_tx)
    values = {(txid_hex(spend_tx), i): o.nValue for i, o in enumerate(spend_tx.vout)}
    for child in descendants:
        values.update({(txid_hex(child), i): o.nValue for i, o in enumerate(child.vout)})
    spent = set()
    for child in descendants:
        ins = [(i.prevout.hash[::-1].hex(), i.prevout.n) for i in child.vin]
        fee += sum(values.get(key, 0) for key in ins) - sum(o.nValue for o in child.vout)
        size += vsize(child)
        spent.update(ins)
    for tx in [spend_tx, *descendants]:
        check_pays_only(tx, our_script)
    unspent = [key for key in values if key not in spent]
    if len(unspent) != 1:
        raise ValidationError(f"package of {txid_hex(spend_tx)}: {len(unspent)} live outputs")
    tip = unspent[0]
    return Package(fee, size, f"{tip[0]}:{tip[1]}", values[tip])


def check_pays_only(tx: CTransaction, our_script: bytes) -> None:
    """ValidationError unless every output of ``tx`` pays ``our_script`` (a bump never pays
    anyone else, and never bumps a transaction that is not ours)."""
    for index, out in enumerate(tx.vout):
        if bytes(out.scriptPubKey) != our_script:
            raise ValidationError(
                f"transaction {txid_hex(tx)} output {index} does not pay our key: not bumped"
            )


def child_vsize(key: WalletKey) -> int:
    """The vsize of a CPFP child (one P2WPKH input, one P2WPKH output)."""
    return vsize(_sweep(key, Utxo("00" * 32, 0, 100_000), 0, signed=False))


def build_cpfp_child(key: WalletKey, package: Package, rate: int) -> CTransaction:
    """A child spending the package's tip to our key, lifting the package to ``rate``."""
    txid, vout = package.tip_txid.split(":")
    coin = Utxo(txid, int(vout), package.tip_value)
    child_fee = rate * (package.vsize + child_vsize(key)) - package.fee
    if child_fee < child_vsize(key):
        raise ValidationError(f"the package already pays {package.rate} sat/vB, not below {rate}")
    if package.tip_value - child_fee < DUST_P2WPKH_SAT:
        raise DustError(
            f"a child paying {child_fee} sat leaves less than the {DUST_P2WPKH_SAT} sat dust "
            f"limit of the {package.tip_value} sat output"
        )
    return _sweep(key, coin, child_fee, signed=True)


def _sweep(key: WalletKey, coin: Utxo, fee: int, *, signed: bool) -> CTransaction:
    vin = [_txin(coin.txid_hex, coin.vout)]
    vout = [CTxOut(coin.value_sat - fee, CScript(key.script_pubkey))]
    if not signed:
        return _tx(vin, vout, [[_DUMMY_SIG, key.pubkey]], 0)
    unsigned = _tx(vin, vout, [], 0)
    return _tx(vin, vout, _sign_p2wpkh_inputs(key, [coin], unsigned), 0)
