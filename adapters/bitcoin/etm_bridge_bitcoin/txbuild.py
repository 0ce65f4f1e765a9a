"""Build and sign the Bitcoin transactions of a swap leg (pure: keys and UTXOs in, tx out).

- Lock: our P2WPKH coins -> ``[P2WSH htlc, OP_RETURN marker, change]``, coins chosen largest
  first, change dropped into the fee when it would be dust.
- Claim / refund: the HTLC output -> one P2WPKH output to us. A refund has
  ``nLockTime = timelock_height`` and input sequence ``0xfffffffe`` (non-final, so the lock time
  and CLTV apply). A **claim signals replacement** (BIP125 sequence ``0xfffffffd``): it reveals
  the secret and must confirm before the counter lock's timeout, so it must stay replaceable by
  a higher-fee version if fees rise (the watcher bumps it: bumps.py, docs/swaps.md). Other
  inputs keep ``0xfffffffe``.

Fees are ``rate_sat_vb * vsize`` where vsize is measured on the transaction itself, built with
worst-case (73-byte) dummy signatures, so no size formula can drift. Dust and a fee larger than
the output raise :class:`~etm_bridge.errors.DustError`; too few coins raise
:class:`~etm_bridge.errors.InsufficientFundsError`. Amounts are integer satoshi.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from bitcoin.core import (
    COutPoint,
    CScript,
    CTransaction,
    CTxIn,
    CTxInWitness,
    CTxOut,
    CTxWitness,
    lx,
)
from bitcoin.core.script import (
    OP_RETURN,
    SIGHASH_ALL,
    SIGVERSION_WITNESS_V0,
    CScriptWitness,
    SignatureHash,
)
from bitcoin.wallet import CKey

from etm_bridge.errors import DustError, InsufficientFundsError, KeystoreError, ValidationError

from .script import (
    HtlcScript,
    claim_witness,
    p2pkh_script_code,
    p2wpkh_script_pubkey,
    refund_witness,
)
from .v2 import (
    AnyHtlc,
    CounterHtlc,
    SwapInHtlc,
    counter_claim_witness,
    marker_script,
    script_pubkey_of,
    swap_in_refund_witness,
)

#: Bitcoin Core's default dust relay fee and largest script, for :func:`dust_threshold_sat`.
DUST_RELAY_SAT_VB = 3
MAX_SCRIPT_SIZE = 10_000
#: Bitcoin Core's dust thresholds at the default 3 sat/vB dust relay fee.
DUST_P2WPKH_SAT = 294
DUST_P2WSH_SAT = 330
SAT_PER_BTC = 100_000_000
#: Non-final input sequence: enables nLockTime/CLTV, does not signal RBF.
SEQUENCE_NON_FINAL = 0xFFFFFFFE
#: BIP125 opt-in replace-by-fee (also non-final): a claim's input.
SEQUENCE_RBF = 0xFFFFFFFD
_DUMMY_SIG = b"\x30" + b"\x00" * 71 + bytes([SIGHASH_ALL])  # 73 bytes, the maximum


@dataclass(frozen=True)
class Utxo:
    """One of our P2WPKH coins. ``txid_hex`` is display order."""

    txid_hex: str
    vout: int
    value_sat: int

    def __post_init__(self) -> None:
        if len(self.txid_hex) != 64 or self.vout < 0 or self.value_sat <= 0:
            raise ValidationError(f"bad utxo {self.txid_hex}:{self.vout} of {self.value_sat} sat")


class WalletKey:
    """Our single signing key (compressed secp256k1) and its P2WPKH script."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) != 32:
            raise ValidationError(f"a Bitcoin private key is 32 bytes, got {len(secret)}")
        self._key = CKey(secret, compressed=True)
        self.pubkey = bytes(self._key.pub)
        self.script_pubkey = p2wpkh_script_pubkey(self.pubkey)

    def sign(self, sighash: bytes) -> bytes:
        """DER signature (low S) with the SIGHASH_ALL byte appended."""
        return bytes(self._key.sign(sighash)) + bytes([SIGHASH_ALL])


class WatchOnlyKey(WalletKey):
    """A public key only: enough to find its coins, never to sign (watch-only balances)."""

    def __init__(self, pubkey: bytes) -> None:
        if len(pubkey) != 33 or pubkey[0] not in (2, 3):
            raise ValidationError("a watch-only Bitcoin key is a 33-byte compressed public key")
        self.pubkey = pubkey
        self.script_pubkey = p2wpkh_script_pubkey(pubkey)

    def sign(self, sighash: bytes) -> bytes:
        raise KeystoreError("a watch-only key cannot sign")


def vsize(tx: CTransaction) -> int:
    """Virtual size: ceil(weight / 4), weight = 3 * stripped size + full size."""
    stripped = CTransaction(tx.vin, tx.vout, tx.nLockTime, tx.nVersion)
    weight = 3 * len(stripped.serialize()) + len(tx.serialize())
    return -(-weight // 4)


def sat_vb_from_estimate(reply: object) -> int | None:
    """The fee rate in whole sat/vB (rounded up) from an ``estimatesmartfee`` reply, or None.

    Bitcoin Core answers ``{"feerate": <BTC/kvB>, "blocks": n}``, or ``{"errors": [...],
    "blocks": n}`` without ``feerate`` when it has no estimate (a young or regtest chain).
    bcoin names the same BTC/kvB value ``fee`` and answers -1 without an estimate. Anything
    else (no number, zero, negative) is "no estimate".
    """
    if not isinstance(reply, dict):
        return None
    value = reply.get("feerate", reply.get("fee"))
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        btc_per_kvb = Decimal(str(value))
    except ArithmeticError:
        return None
    if not btc_per_kvb.is_finite() or btc_per_kvb <= 0:
        return None
    return max(1, int((btc_per_kvb * SAT_PER_BTC / 1000).to_integral_value(ROUND_CEILING)))


def fee_for(tx: CTransaction, rate_sat_vb: int) -> int:
    if rate_sat_vb < 1:
        raise ValidationError(f"fee rate must be at least 1 sat/vB, got {rate_sat_vb}")
    return rate_sat_vb * vsize(tx)


def _tx(
    vin: Sequence[CTxIn], vout: Sequence[CTxOut], witnesses: Sequence[list[bytes]], locktime: int
) -> CTransaction:
    wit = CTxWitness([CTxInWitness(CScriptWitness(items)) for items in witnesses])
    return CTransaction(vin, vout, nLockTime=locktime, nVersion=2, witness=wit)


def _txin(txid_hex: str, vout: int, sequence: int = SEQUENCE_NON_FINAL) -> CTxIn:
    return CTxIn(COutPoint(lx(txid_hex), vout), nSequence=sequence)


# --- payments and locks ------------------------------------------------------------------------


def _is_witness_program(script_pubkey: bytes) -> bool:
    """Core's ``IsWitnessProgram``: a version opcode, then one push of 2..40 bytes."""
    n = len(script_pubkey)
    version_ok = n >= 4 and (script_pubkey[0] == 0 or 0x51 <= script_pubkey[0] <= 0x60)
    return version_ok and n <= 42 and script_pubkey[1] + 2 == n


def dust_threshold_sat(script_pubkey: bytes) -> int:
    """Bitcoin Core's dust limit of an output (``GetDustThreshold`` at the default 3 sat/vB
    dust relay fee): 3 x (the output's size + the size of an input spending it later).
    An unspendable ``OP_RETURN`` output is never dust."""
    if script_pubkey[:1] == bytes([OP_RETURN]) or len(script_pubkey) > MAX_SCRIPT_SIZE:
        return 0
    length = len(script_pubkey)
    size = 8 + (1 if length < 253 else 3) + length
    size += 67 if _is_witness_program(script_pubkey) else 148
    return DUST_RELAY_SAT_VB * size


def _sign_p2wpkh_inputs(key: WalletKey, coins: Sequence[Utxo], unsigned: CTransaction) -> list:
    code = CScript(p2pkh_script_code(key.pubkey))
    witnesses = []
    for index, coin in enumerate(coins):
        sighash = SignatureHash(
            code, unsigned, index, SIGHASH_ALL, coin.value_sat, SIGVERSION_WITNESS_V0
        )
        witnesses.append([key.sign(sighash), key.pubkey])
    return witnesses


def _with_change(outputs: Sequence[CTxOut], change: int, key: WalletKey) -> list[CTxOut]:
    return [*outputs, CTxOut(change, CScript(key.script_pubkey))] if change else list(outputs)


def build_payment_tx(
    key: WalletKey, utxos: Sequence[Utxo], outputs: Sequence[CTxOut], rate_sat_vb: int
) -> tuple[CTransaction, list[Utxo]]:
    """Signed transaction paying ``outputs`` (in this order) from our P2WPKH coins, and the
    coins it spends: largest coins first, change to us appended last, change that would be dust
    left to the fee. :class:`DustError` if an output is dust, InsufficientFundsError if the
    coins cannot pay the outputs and the fee."""
    for index, out in enumerate(outputs):
        limit = dust_threshold_sat(bytes(out.scriptPubKey))
        if out.nValue < limit:
            raise DustError(f"output {index} of {out.nValue} sat is dust (minimum {limit} sat)")
    paid = sum(out.nValue for out in outputs)
    coins: list[Utxo] = []
    for coin in sorted(utxos, key=lambda u: (-u.value_sat, u.txid_hex, u.vout)):
        coins.append(coin)
        total = sum(c.value_sat for c in coins)
        vin = [_txin(c.txid_hex, c.vout) for c in coins]
        dummy = [[_DUMMY_SIG, key.pubkey]] * len(coins)
        for change_slot in (1, 0):  # with a change output, else without one
            fee = fee_for(_tx(vin, _with_change(outputs, change_slot, key), dummy, 0), rate_sat_vb)
            change = total - paid - fee
            if change >= (DUST_P2WPKH_SAT if change_slot else 0):
                unsigned = _tx(vin, _with_change(outputs, change * change_slot, key), [], 0)
                signed = _tx(vin, unsigned.vout, _sign_p2wpkh_inputs(key, coins, unsigned), 0)
                return signed, coins
    have = sum(u.value_sat for u in utxos)
    raise InsufficientFundsError(
        f"paying {paid} sat at {rate_sat_vb} sat/vB needs more than the {have} sat "
        f"spendable by key {key.pubkey.hex()}; fund its address first"
    )


def build_lock_tx(
    key: WalletKey, utxos: Sequence[Utxo], htlc: AnyHtlc, amount_sat: int, rate_sat_vb: int
) -> tuple[CTransaction, list[Utxo]]:
    """Signed lock transaction (HTLC at output 0, its marker, v1 or v2, at 1) and the coins
    it spends."""
    if amount_sat < DUST_P2WSH_SAT:
        raise DustError(f"lock amount {amount_sat} sat is dust (minimum {DUST_P2WSH_SAT} sat)")
    outputs = [
        CTxOut(amount_sat, CScript(script_pubkey_of(htlc))),
        CTxOut(0, CScript(marker_script(htlc))),
    ]
    return build_payment_tx(key, utxos, outputs, rate_sat_vb)


# --- claim / refund ----------------------------------------------------------------------------


def _build_spend(
    key: WalletKey,
    lock_txid_hex: str,
    lock_vout: int,
    lock_value_sat: int,
    htlc: AnyHtlc,
    rate_sat_vb: int,
    locktime: int,
    witness_for: Callable[[bytes], list[bytes]],
    sequence: int = SEQUENCE_NON_FINAL,
) -> CTransaction:
    vin = [_txin(lock_txid_hex, lock_vout, sequence)]
    probe_out = [CTxOut(lock_value_sat, CScript(key.script_pubkey))]
    fee = fee_for(_tx(vin, probe_out, [witness_for(_DUMMY_SIG)], locktime), rate_sat_vb)
    if fee >= lock_value_sat:
        raise DustError(f"fee {fee} sat is larger than the locked {lock_value_sat} sat")
    out_value = lock_value_sat - fee
    if out_value < DUST_P2WPKH_SAT:
        raise DustError(
            f"after a fee of {fee} sat the output is {out_value} sat, below the "
            f"{DUST_P2WPKH_SAT} sat dust limit"
        )
    vout = [CTxOut(out_value, CScript(key.script_pubkey))]
    unsigned = _tx(vin, vout, [], locktime)
    sighash = SignatureHash(
        CScript(htlc.script), unsigned, 0, SIGHASH_ALL, lock_value_sat, SIGVERSION_WITNESS_V0
    )
    return _tx(vin, vout, [witness_for(key.sign(sighash))], locktime)


def build_claim_tx(
    key: WalletKey,
    lock_txid_hex: str,
    lock_vout: int,
    lock_value_sat: int,
    htlc: HtlcScript,
    preimage: bytes,
    rate_sat_vb: int,
) -> CTransaction:
    """Signed claim: witness ``<sig> <preimage> 1 <script>``, nLockTime 0, input sequence
    ``0xfffffffd`` (signals replace-by-fee)."""
    return _build_spend(
        key, lock_txid_hex, lock_vout, lock_value_sat, htlc, rate_sat_vb, 0,
        lambda sig: claim_witness(sig, preimage, htlc), SEQUENCE_RBF,
    )  # fmt: skip


def build_refund_tx(
    key: WalletKey,
    lock_txid_hex: str,
    lock_vout: int,
    lock_value_sat: int,
    htlc: HtlcScript,
    rate_sat_vb: int,
) -> CTransaction:
    """Signed refund: witness ``<sig> <> <script>``, nLockTime = the HTLC's height."""
    return _build_spend(
        key, lock_txid_hex, lock_vout, lock_value_sat, htlc, rate_sat_vb,
        htlc.timelock_height, lambda sig: refund_witness(sig, htlc),
    )  # fmt: skip


def build_counter_claim_tx(
    key: WalletKey,
    lock_txid_hex: str,
    lock_vout: int,
    lock_value_sat: int,
    htlc: CounterHtlc,
    preimage: bytes,
    rate_sat_vb: int,
) -> CTransaction:
    """The user's claim of a counter HTLC v2: witness ``<sig> <preimage> 1 <script>``, as a v1
    claim (replaceable, nLockTime 0)."""
    return _build_spend(
        key, lock_txid_hex, lock_vout, lock_value_sat, htlc, rate_sat_vb, 0,
        lambda sig: counter_claim_witness(sig, preimage, htlc), SEQUENCE_RBF,
    )  # fmt: skip


def build_swap_in_refund_tx(
    key: WalletKey,
    lock_txid_hex: str,
    lock_vout: int,
    lock_value_sat: int,
    htlc: SwapInHtlc,
    rate_sat_vb: int,
) -> CTransaction:
    """The user's refund of a swap-in HTLC v2: witness ``<sig> <> <script>``, nLockTime T."""
    return _build_spend(
        key, lock_txid_hex, lock_vout, lock_value_sat, htlc, rate_sat_vb,
        htlc.timelock, lambda sig: swap_in_refund_witness(sig, htlc),
    )  # fmt: skip


def build_user_claim_tx(
    key: WalletKey,
    lock: tuple[str, int, int],
    htlc: AnyHtlc,
    preimage: bytes,
    rate_sat_vb: int,
) -> CTransaction:
    """Our claim of ``htlc`` (v1, or a counter v2 whose claim side is our key);
    ValidationError for a swap-in v2 (the committee claims it, not a single key)."""
    txid, vout, value = lock
    if isinstance(htlc, HtlcScript):
        return build_claim_tx(key, txid, vout, value, htlc, preimage, rate_sat_vb)
    if isinstance(htlc, CounterHtlc):
        return build_counter_claim_tx(key, txid, vout, value, htlc, preimage, rate_sat_vb)
    raise ValidationError(
        "this lock's claim side is a committee key policy: only m of its members' signatures "
        "claim it (an assembled claim goes through custody_submit), not this wallet's key"
    )


def build_user_refund_tx(
    key: WalletKey, lock: tuple[str, int, int], htlc: AnyHtlc, rate_sat_vb: int
) -> CTransaction:
    """Our refund of ``htlc`` (v1, or a swap-in v2 whose refund side is our key);
    ValidationError for a counter v2 (the committee refunds it)."""
    txid, vout, value = lock
    if isinstance(htlc, HtlcScript):
        return build_refund_tx(key, txid, vout, value, htlc, rate_sat_vb)
    if isinstance(htlc, SwapInHtlc):
        return build_swap_in_refund_tx(key, txid, vout, value, htlc, rate_sat_vb)
    raise ValidationError(
        "this lock's refund side is a committee key policy: only m of its members' signatures "
        "refund it (an assembled refund goes through custody_submit), not this wallet's key"
    )
