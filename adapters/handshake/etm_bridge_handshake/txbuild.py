"""Build and sign the Handshake transactions of a swap leg (pure: keys and coins in, tx out).

- Payment / lock: our pay-to-key coins -> the outputs (a lock: ``[HTLC, marker, change]``),
  coins chosen largest first; input 0 is always one of our coins, so its witness
  ``[sig, our pubkey]`` names the refund key (``script.py``). Change that would be dust goes to
  the fee.
- Claim / refund: the HTLC output -> one pay-to-key output to us. A refund has ``locktime =
  timelock_height`` and input sequence 0xfffffffe (so CLTV applies); a claim has locktime 0.

Fees are ``rate x vsize`` measured on the transaction itself with dummy 65-byte signatures
(Handshake signatures have a fixed size, so the estimate is exact). Dust (hsd's
``getDustThreshold`` at the 1 doo/vB relay rate), a fee larger than the output, or too few
coins raise :class:`DustError` / :class:`InsufficientFundsError`. Amounts are integer doo.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from etm_bridge.errors import DustError, InsufficientFundsError, ValidationError

from .codec import Address, Input, Output, Tx
from .script import HtlcScript, LockMarker, claim_witness, refund_witness
from .sighash import SIGHASH_ALL, WalletKey, signature_hash

SEQUENCE_FINAL = 0xFFFFFFFF
SEQUENCE_NON_FINAL = 0xFFFFFFFE
_DUMMY_SIG = bytes(64) + bytes([SIGHASH_ALL])
#: hsd's dust rule: 3 x the relay fee (1 doo/vB) of the output plus the input spending it.
DUST_INPUT_SIZE = 32 + 4 + 1 + 107 // 4 + 4


@dataclass(frozen=True)
class Coin:
    """One of our pay-to-key coins (txid as hsd shows it: plain hex)."""

    txid_hex: str
    vout: int
    value: int

    def __post_init__(self) -> None:
        if len(self.txid_hex) != 64 or self.vout < 0 or self.value <= 0:
            raise ValidationError(f"bad coin {self.txid_hex}:{self.vout} of {self.value} doo")


def dust_threshold(output: Output) -> int:
    """hsd's ``Output.getDustThreshold`` at the minimum relay rate (0 for nulldata)."""
    if output.address.version == 31:
        return 0
    return 3 * (len(output.encode()) + DUST_INPUT_SIZE)


def fee_for(tx: Tx, rate: int) -> int:
    if rate < 1:
        raise ValidationError(f"fee rate must be at least 1 doo/vB, got {rate}")
    return rate * tx.vsize


def _input(txid_hex: str, vout: int, sequence: int, witness: tuple[bytes, ...] = ()) -> Input:
    return Input(bytes.fromhex(txid_hex), vout, sequence, witness)


def _sign_coins(key: WalletKey, coins: Sequence[Coin], unsigned: Tx) -> Tx:
    inputs = []
    for index, coin in enumerate(coins):
        digest = signature_hash(unsigned, index, key.p2pkh_script, coin.value, SIGHASH_ALL)
        inputs.append(
            _input(coin.txid_hex, coin.vout, SEQUENCE_FINAL, (key.sign(digest), key.pubkey))
        )
    return Tx(tuple(inputs), unsigned.outputs, unsigned.locktime)


def build_payment_tx(
    key: WalletKey, coins: Sequence[Coin], outputs: Sequence[Output], rate: int
) -> tuple[Tx, list[Coin]]:
    """Signed transaction paying ``outputs`` (in order) from our coins, change to us last."""
    for index, out in enumerate(outputs):
        limit = dust_threshold(out)
        if out.value < limit:
            raise DustError(f"output {index} of {out.value} doo is dust (minimum {limit} doo)")
    paid = sum(out.value for out in outputs)
    chosen: list[Coin] = []
    for coin in sorted(coins, key=lambda c: (-c.value, c.txid_hex, c.vout)):
        chosen.append(coin)
        total = sum(c.value for c in chosen)
        dummy = (_DUMMY_SIG, key.pubkey)
        vin = tuple(_input(c.txid_hex, c.vout, SEQUENCE_FINAL, dummy) for c in chosen)
        for with_change in (True, False):
            change_out = [Output(0, key.address)] if with_change else []
            fee = fee_for(Tx(vin, (*outputs, *change_out)), rate)
            change = total - paid - fee
            floor = dust_threshold(Output(0, key.address)) if with_change else 0
            if change >= floor:
                final = (*outputs, Output(change, key.address)) if with_change else tuple(outputs)
                unsigned = Tx(
                    tuple(_input(c.txid_hex, c.vout, SEQUENCE_FINAL) for c in chosen), final
                )
                return _sign_coins(key, chosen, unsigned), chosen
    have = sum(c.value for c in coins)
    raise InsufficientFundsError(
        f"paying {paid} doo at {rate} doo/vB needs more than the {have} doo spendable by key "
        f"{key.pubkey.hex()}; fund its address first"
    )


def build_lock_tx(
    key: WalletKey, coins: Sequence[Coin], htlc: HtlcScript, amount: int, rate: int
) -> tuple[Tx, list[Coin]]:
    """Signed lock (HTLC at output 0, marker at 1, change last) and the coins it spends. The
    refund key must be ours: input 0's key is what the chain shows as the refund key."""
    if htlc.refund_pubkey != key.pubkey:
        raise ValidationError(
            "a Handshake lock's refund key must be the locking adapter's own key "
            f"({key.pubkey.hex()}), got {htlc.refund_pubkey.hex()}"
        )
    marker = LockMarker(htlc.claim_pubkey, htlc.refund_pubkey, htlc.timelock_height)
    outputs = [Output(amount, htlc.address), Output(0, marker.nulldata())]
    return build_payment_tx(key, coins, outputs, rate)


def _build_spend(
    key: WalletKey,
    lock_txid_hex: str,
    lock_vout: int,
    lock_value: int,
    htlc: HtlcScript,
    rate: int,
    locktime: int,
    witness_for: Callable[[bytes], tuple[bytes, ...]],
    to: Address | None = None,
) -> Tx:
    payee = to or key.address
    probe = Tx(
        (_input(lock_txid_hex, lock_vout, SEQUENCE_NON_FINAL, witness_for(_DUMMY_SIG)),),
        (Output(lock_value, payee),),
        locktime,
    )
    fee = fee_for(probe, rate)
    out_value = lock_value - fee
    floor = dust_threshold(Output(0, payee))
    if out_value < floor:
        raise DustError(
            f"after a fee of {fee} doo the {lock_value} doo lock leaves {out_value} doo, below "
            f"the {floor} doo dust limit"
        )
    vin = (_input(lock_txid_hex, lock_vout, SEQUENCE_NON_FINAL),)
    unsigned = Tx(vin, (Output(out_value, payee),), locktime)
    digest = signature_hash(unsigned, 0, htlc.script, lock_value, SIGHASH_ALL)
    signed_in = _input(lock_txid_hex, lock_vout, SEQUENCE_NON_FINAL, witness_for(key.sign(digest)))
    return Tx((signed_in,), unsigned.outputs, locktime)


def build_claim_tx(
    key: WalletKey, lock_txid_hex: str, lock_vout: int, lock_value: int, htlc: HtlcScript,
    preimage: bytes, rate: int,
) -> Tx:  # fmt: skip
    """Signed claim: witness ``<sig> <preimage> 1 <script>``, locktime 0."""
    return _build_spend(
        key, lock_txid_hex, lock_vout, lock_value, htlc, rate, 0,
        lambda sig: claim_witness(sig, preimage, htlc),
    )  # fmt: skip


def build_refund_tx(
    key: WalletKey, lock_txid_hex: str, lock_vout: int, lock_value: int, htlc: HtlcScript,
    rate: int, locktime: int | None = None,
) -> Tx:  # fmt: skip
    """Signed refund: witness ``<sig> <> <script>``, locktime = the HTLC's height (``locktime``
    overrides it only for tests that prove the chain refuses an earlier one)."""
    return _build_spend(
        key, lock_txid_hex, lock_vout, lock_value, htlc, rate,
        htlc.timelock_height if locktime is None else locktime,
        lambda sig: refund_witness(sig, htlc),
    )  # fmt: skip
