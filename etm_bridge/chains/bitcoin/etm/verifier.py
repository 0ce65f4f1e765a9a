"""Bitcoin proofs for the exchange tx types: SPV inclusion plus what the proven outputs say.

A :class:`BtcProof` is a :class:`~etm_bridge.chains.bitcoin.spv.inclusion.BitcoinTxProof` (raw tx,
block, Merkle branch), the index of the output that matters and, for a lock, the HTLC witness
script. :class:`BtcVerifier` checks the inclusion against the ETM chain's Bitcoin header relay
(:func:`~etm_bridge.chains.bitcoin.spv.inclusion.check_bitcoin_proof`: known block, best chain) and
then reads **only data the txid commits to** -- outputs -- never witnesses (the txid Merkle tree
does not commit them, so a prover could swap them). Every proof needs the depth of the relay's
:class:`~etm_bridge.spv.relay_policy.RelayPolicy` for its amount: ``max(relay floor, pool
min_confirmations, value-scaled depth)`` (deposits and payments: ``bad_proof``; a lock carries
the required depth in its record and the swap rules refuse it as ``not_enough_confirmations``),
the value-scaled depth sized on everything proven from the proof's block, this proof included
(:mod:`etm_bridge.exchange.proof_budget`: the loss budget is per block, so splitting a large
amount does not help). A lock also carries its block's and the relay tip's timestamps, which
bound its remaining time (:func:`~.swap_rules.foreign_seconds_left`):

- lock (swap in): output ``vout`` is ``P2WSH(sha256(witness_script))`` and the script is exactly
  the template of ``contracts/bitcoin/htlc.asm``; its hashlock, keys and timelock height become
  a :class:`~.swap_rules.VerifiedForeignLock` (``lock_id = txid_le || vout u32 BE``). The
  transaction must also carry the lock's marker (:func:`lock_marker`) as its one marker output
  (:func:`require_lock_marker`): a P2WSH output hides its script, and the marker is how the pool
  operator's engine (the Bitcoin adapter) finds the lock to claim it. A proven lock it cannot
  find is a lock the user refunds after taking the pool's ETM (review a11a, docs/security.md).
  A lock whose script is instead exactly the **swap-in HTLC v2** (design-14 section 2.1: claim
  = preimage + a committee policy's m signatures, refund = the user) needs its one marker v2
  (:func:`require_policy_marker`) and is read with the policy bytes as its claim key, which
  only a custody pool's vault can equal (a legacy pool refuses it ``wrong_claim_key``); a
  counter HTLC v2 (the vault's own lock) is not a user's lock;
- deposit: output ``vout`` pays ``P2WPKH(hash160(pool claim key))`` (a committee pool: any
  script, which the custody port checks against its vaults' P2WSH); the transaction has exactly
  one ``OP_RETURN "ETMD" || address20`` output naming the ETM owner;
- payment (obligations): the transaction has exactly one ``OP_RETURN "ETMO" || id_1 || ... ||
  id_n`` output (``n`` = 1..8 obligation ids, u64 BE each, no repeats: :func:`payment_tag`), and
  output ``vout`` pays ``P2WPKH(hash160(destination))``: it pays the listed obligations whose
  destination that is (one output may cover several obligations of one investor; several
  outputs, each proven on its own, pay several investors in one transaction).

Encoding of a :class:`BtcProof`: ``u32 BE len || BitcoinTxProof.encode() || u32 BE vout ||
u32 BE len || witness_script`` (empty script for deposits and payments). Pure.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from bitcoin.core import Hash160

from etm_bridge.chains.bitcoin.custody.scripts import (
    MARKER_V2_TAG,
    POLICY_TAG,
    MarkerV2,
    SwapInHtlc,
    parse_htlc_script,
    parse_policy,
)
from etm_bridge.chains.bitcoin.etm.genesis import default_policy
from etm_bridge.chains.bitcoin.spv.header_relay import BitcoinRelay
from etm_bridge.chains.bitcoin.spv.headers import dsha256
from etm_bridge.chains.bitcoin.spv.inclusion import BitcoinTxProof, check_bitcoin_proof
from etm_bridge.chains.bitcoin.spv.tx import ParsedTx, TxOut
from etm_bridge.errors import ExchangeError, ValidationError
from etm_bridge.exchange.obligations import MAX_PAID_PER_PAYMENT
from etm_bridge.exchange.reasons import Reason
from etm_bridge.exchange.utxo_verifier import Included, ProvenOutput, UtxoVerifier
from etm_bridge.hashlock import sha256
from etm_bridge.observations import HtlcLock, InclusionProof
from etm_bridge.spv.relay_policy import RelayPolicy

#: Nominal Bitcoin block time used for the remaining-time estimate of a lock.
BLOCK_TIME_S = 600
DEPOSIT_TAG = b"ETMD"
PAYMENT_TAG = b"ETMO"
#: The lock marker's tag: ``OP_RETURN "ETM\x01" || claim || refund || timelock u32 LE`` is how
#: every party finds a P2WSH lock (``adapters/bitcoin``, ``script.LockMarker``).
MARKER_TAG = b"ETM\x01"
_OP_RETURN = 0x6A
_U32 = struct.Struct(">I")

# opcodes of the HTLC template
_OP_IF, _OP_ELSE, _OP_ENDIF, _OP_SIZE = 0x63, 0x67, 0x68, 0x82
_OP_EQUALVERIFY, _OP_SHA256, _OP_CLTV, _OP_DROP, _OP_CHECKSIG = 0x88, 0xA8, 0xB1, 0x75, 0xAC


def _script_num_push(n: int) -> bytes:
    """Minimal push of a positive CScriptNum (OP_1..OP_16 for 1..16)."""
    if 1 <= n <= 16:
        return bytes([0x50 + n])
    data = n.to_bytes((n.bit_length() + 7) // 8, "little")
    if data[-1] & 0x80:
        data += b"\x00"
    return bytes([len(data)]) + data


def htlc_witness_script(hashlock: bytes, claim: bytes, refund: bytes, timelock: int) -> bytes:
    """The witness script of ``contracts/bitcoin/htlc.asm`` for these values."""
    return b"".join(
        [
            bytes([_OP_IF, _OP_SIZE, 0x01, 0x20, _OP_EQUALVERIFY, _OP_SHA256, 0x20]),
            hashlock,
            bytes([_OP_EQUALVERIFY, 0x21]),
            claim,
            bytes([_OP_ELSE]),
            _script_num_push(timelock),
            bytes([_OP_CLTV, _OP_DROP, 0x21]),
            refund,
            bytes([_OP_ENDIF, _OP_CHECKSIG]),
        ]
    )


def parse_htlc_witness_script(script: bytes) -> tuple[bytes, bytes, bytes, int]:
    """``(hashlock, claim_pubkey, refund_pubkey, timelock_height)``; only the exact template."""
    try:
        hashlock, claim = script[7:39], script[41:74]
        n = script[75]
        if 0x51 <= n <= 0x60:
            timelock, rest = n - 0x50, script[76:]
        elif 1 <= n <= 5:
            timelock, rest = int.from_bytes(script[76 : 76 + n], "little"), script[76 + n :]
        else:
            raise IndexError
        refund = rest[3:36]
    except IndexError:
        raise ValidationError("witness script is not the etm-bridge HTLC template") from None
    if htlc_witness_script(hashlock, claim, refund, timelock) != script:
        raise ValidationError("witness script is not the etm-bridge HTLC template (canonical)")
    if not 0 < timelock < 500_000_000 or {claim[0], refund[0]} - {2, 3}:
        raise ValidationError("HTLC timelock must be a block height and keys compressed")
    return hashlock, claim, refund, timelock


def lock_marker(claim: bytes, refund: bytes, timelock: int) -> bytes:
    """The marker output script of a lock with these keys and timelock height (74 data bytes,
    one direct push): what the Bitcoin adapter writes next to every lock it makes."""
    data = MARKER_TAG + claim + refund + struct.pack("<I", timelock)
    return bytes([_OP_RETURN, len(data)]) + data


def require_lock_marker(tx: ParsedTx, claim: bytes, refund: bytes, timelock: int) -> None:
    """Raise unless ``tx`` carries exactly one output that could be a lock marker and it is the
    marker of this lock. "Could be": an ``OP_RETURN`` script holding the tag anywhere, a
    superset of what the adapter parses as a marker (any push form), because the adapter gives
    every P2WSH output of a transaction its *first* marker: a decoy marker before the real one
    would hide the lock from the operator as surely as no marker at all."""
    markers = [o.script_pubkey for o in tx.outputs if o.script_pubkey[:1] == bytes([_OP_RETURN])
               and MARKER_TAG in o.script_pubkey]  # fmt: skip
    if markers != [lock_marker(claim, refund, timelock)]:
        raise ExchangeError(
            Reason.UNMARKED_LOCK,
            f"the lock transaction {tx.txid_le[::-1].hex()} needs exactly one marker output "
            f"(OP_RETURN {MARKER_TAG!r} || claim key || refund key || timelock u32 LE) naming "
            f"this lock, found {len(markers)} marker-like outputs: without it the pool "
            "operator cannot find the lock to claim it. Lock with etm-bridge (swap start)",
        )


def policy_lock(script: bytes) -> SwapInHtlc:
    """The swap-in HTLC v2 (design-14 section 2.1: claim = preimage + the committee's m
    signatures, refund = the user) that ``script`` is exactly, or ValidationError. A counter
    HTLC v2 is the vault's lock, never a user's swap-in."""
    htlc = parse_htlc_script(script)
    if not isinstance(htlc, SwapInHtlc):
        raise ValidationError("witness script is not a swap-in lock (v1 or swap-in v2 template)")
    return htlc


def require_policy_marker(tx: ParsedTx, htlc: SwapInHtlc) -> None:
    """Raise unless ``tx`` carries exactly one marker-like output (an ``OP_RETURN`` holding
    ``ETM\x01`` or ``ETM\x02`` anywhere) and it is this lock's marker v2 (role swap-in, the
    refund key, the timelock, sha256 of the policy): the rule of :func:`require_lock_marker`
    for locks whose claim branch is a committee policy."""
    markers = [o.script_pubkey for o in tx.outputs if o.script_pubkey[:1] == bytes([_OP_RETURN])
               and (MARKER_TAG in o.script_pubkey or MARKER_V2_TAG in o.script_pubkey)]  # fmt: skip
    if markers != [MarkerV2.of(htlc).script_pubkey()]:
        raise ExchangeError(
            Reason.UNMARKED_LOCK,
            f"the lock transaction {tx.txid_le[::-1].hex()} needs exactly one marker output "
            f"(OP_RETURN {MARKER_V2_TAG!r} || 0x01 || refund key || timelock u32 LE || "
            f"sha256(policy)) naming this lock, found {len(markers)} marker-like outputs: "
            "without it the committee cannot find the lock to claim it",
        )


def p2wsh(witness_script: bytes) -> bytes:
    return b"\x00\x20" + sha256(witness_script)


def p2wpkh(pubkey: bytes) -> bytes:
    return b"\x00\x14" + Hash160(pubkey)


def _tagged(tx: ParsedTx, tag: bytes) -> list[bytes]:
    """The data after ``tag`` of every ``OP_RETURN <tag || data>`` output (one direct push)."""
    found = []
    for out in tx.outputs:
        s = out.script_pubkey
        if len(s) >= 2 and s[0] == _OP_RETURN and s[1] == len(s) - 2 and s[2:].startswith(tag):
            found.append(s[2 + len(tag) :])
    return found


def tagged_data(tx: ParsedTx, tag: bytes, length: int) -> bytes:
    """The one ``OP_RETURN <tag || data>`` output's data (``length`` bytes), or raise."""
    found = _tagged(tx, tag)
    if len(found) != 1 or len(found[0]) != length:
        raise ValidationError(
            f"the transaction needs exactly one OP_RETURN {tag.decode()} output of "
            f"{len(tag) + length} bytes, found {len(found)}"
        )
    return found[0]


def payment_tag(obligation_ids: Sequence[int]) -> bytes:
    """The OP_RETURN data of a payment of ``obligation_ids`` (1..8 distinct u64 ids)."""
    ids = list(obligation_ids)
    if not 1 <= len(ids) <= MAX_PAID_PER_PAYMENT or len(set(ids)) != len(ids):
        raise ValidationError(f"a payment lists 1..{MAX_PAID_PER_PAYMENT} distinct ids: {ids}")
    return PAYMENT_TAG + b"".join(struct.pack(">Q", i) for i in ids)


def paid_ids(tx: ParsedTx) -> list[int]:
    """The obligation ids a payment transaction lists (its one ``ETMO`` OP_RETURN), or raise."""
    found = _tagged(tx, PAYMENT_TAG)
    data = found[0] if len(found) == 1 else b""
    n = len(data) // 8
    if not data or len(data) % 8 or not 1 <= n <= MAX_PAID_PER_PAYMENT:
        raise ValidationError(
            f"the transaction needs exactly one OP_RETURN ETMO output listing 1.."
            f"{MAX_PAID_PER_PAYMENT} obligation ids of 8 bytes; found {len(found)} such outputs"
        )
    ids = [int.from_bytes(data[i : i + 8], "big") for i in range(0, len(data), 8)]
    if len(set(ids)) != n:
        raise ValidationError(f"the payment lists an obligation twice: {ids}")
    return ids


@dataclass(frozen=True)
class BtcProof:
    """An inclusion proof, the output that matters, and (locks only) its witness script."""

    tx_proof: BitcoinTxProof
    vout: int
    witness_script: bytes = b""

    def encode(self) -> bytes:
        inner = self.tx_proof.encode()
        return b"".join(
            [
                _U32.pack(len(inner)),
                inner,
                _U32.pack(self.vout),
                _U32.pack(len(self.witness_script)),
                self.witness_script,
            ]
        )

    @classmethod
    def decode(cls, data: bytes) -> BtcProof:
        try:
            (n,) = _U32.unpack_from(data, 0)
            inner = BitcoinTxProof.decode(data[4 : 4 + n])
            vout, m = struct.unpack_from(">II", data, 4 + n)
        except struct.error:
            raise ValidationError("bitcoin exchange proof ends early") from None
        script = data[12 + n :]
        if len(script) != m:
            raise ValidationError("bitcoin exchange proof has the wrong length")
        return cls(inner, vout, script)

    @classmethod
    def from_adapter_proof(
        cls, proof: InclusionProof, vout: int, witness_script: bytes = b""
    ) -> BtcProof:
        """From the Bitcoin adapter's ``bitcoin-merkle`` :class:`InclusionProof`."""
        if proof.kind != "bitcoin-merkle" or proof.tx_count is None:
            raise ValidationError(f"expected a bitcoin-merkle proof, got {proof.kind!r}")
        tx_proof = BitcoinTxProof(
            proof.leaf, dsha256(proof.header), proof.index, proof.tx_count, tuple(proof.branch)
        )
        return cls(tx_proof, vout, witness_script)


class BtcVerifier(UtxoVerifier[BtcProof, ParsedTx]):
    """The exchange's :class:`~etm_bridge.exchange.txtypes.ForeignVerifier` for Bitcoin: the
    shared :class:`~etm_bridge.exchange.utxo_verifier.UtxoVerifier` with Bitcoin's outputs.

    Built as ``BtcVerifier(relay_of, policy_of=None, pool_network=None, block_time_s=None)``.
    """

    TICKER, UNIT, BLOCK_TIME_S = "btc", "sat", BLOCK_TIME_S

    def default_policy(self, network: str) -> RelayPolicy:
        return default_policy(network)

    def decode(self, data: bytes) -> BtcProof:
        return BtcProof.decode(data)

    def include(self, relay: BitcoinRelay, proof: BtcProof) -> Included[ParsedTx]:
        confirmed = check_bitcoin_proof(relay, proof.tx_proof, 1)
        return Included(
            confirmed.tx, confirmed.block_hash_le, confirmed.height, confirmed.confirmations
        )

    def value_of(self, out: TxOut) -> int:
        return out.value_sat

    def pays(self, out: TxOut, key: bytes) -> bool:
        return out.script_pubkey == p2wpkh(key)

    def txid(self, tx: ParsedTx) -> bytes:
        return tx.txid_le

    def destination_of(self, out: TxOut) -> bytes:
        return out.script_pubkey

    def spent_outpoints(self, tx: ParsedTx) -> tuple[bytes, ...]:
        return tuple(i.prev_txid_le + struct.pack("<I", i.prev_index) for i in tx.inputs)

    def deposit_owner(self, tx: ParsedTx) -> bytes:
        return tagged_data(tx, DEPOSIT_TAG, 20)

    def paid_ids(self, tx: ParsedTx) -> list[int]:
        return paid_ids(tx)

    def lock_terms(
        self, proven: ProvenOutput[BtcProof, ParsedTx]
    ) -> tuple[bytes, bytes, bytes, int]:
        """Output ``vout`` is P2WSH of the HTLC template and the transaction carries its one
        lock marker; or of a swap-in HTLC v2 whose claim branch is a committee policy (the
        lock's claim key is then the policy bytes) with its one marker v2."""
        script = proven.proof.witness_script
        if proven.out.script_pubkey != p2wsh(script):
            raise ValidationError("the output is not P2WSH of the given witness script")
        try:
            hashlock, claim, refund, timelock = parse_htlc_witness_script(script)
        except ValidationError as v1_error:
            try:
                htlc = policy_lock(script)
            except ValidationError:
                raise v1_error from None
            require_policy_marker(proven.tx, htlc)
            return htlc.hashlock, htlc.policy.encode(), htlc.refund_key, htlc.timelock
        require_lock_marker(proven.tx, claim, refund, timelock)
        return hashlock, claim, refund, timelock


def lock_proof(lock: HtlcLock, proof: InclusionProof) -> bytes:
    """The ``xchg_swap_in`` proof bytes of a lock the Bitcoin adapter reported (``txid:vout``)
    from its ``bitcoin-merkle`` inclusion proof: the witness script is rebuilt from the terms
    (a swap-in v2 when the claim key is a committee policy)."""
    vout = int(lock.lock_id.split(":")[1])
    t = lock.terms
    if t.claim_key[:1] == bytes([POLICY_TAG]):
        policy = parse_policy(t.claim_key)
        script = SwapInHtlc(t.hashlock, policy, t.refund_key, t.timelock_height).script
    else:
        script = htlc_witness_script(t.hashlock, t.claim_key, t.refund_key, t.timelock_height)
    return BtcProof.from_adapter_proof(proof, vout, script).encode()
