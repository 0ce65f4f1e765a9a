"""Handshake proofs for the exchange tx types: SPV inclusion plus what the proven outputs say.

An :class:`HnsProof` is an :class:`~..spv.inclusion.HnsTxProof`, the index of the output that
matters and, for a lock, the HTLC witness script and the witness-stripped transaction whose
output input 0 spends. :class:`HnsVerifier` checks the inclusion against the ETM chain's
Handshake relay and then reads **only bytes a txid commits to** (the stripped transactions),
never witnesses, which the txid tree does not commit and a prover could swap. Depth as Bitcoin's
verifier: ``max(relay floor, pool min_confirmations, value-scaled depth)`` sized on everything
proven from the proof's block (:mod:`etm_bridge.exchange.proof_budget`).

- lock (swap in): output ``vout`` is version 0 + SHA3-256(script), covenant NONE, and the script
  is exactly the template; the transaction's one nulldata output is the marker naming this
  lock's claim key and timelock; and **input 0 spends a pay-to-key coin of the script's refund
  key**: the given previous transaction hashes to input 0's prev txid and its output pays
  BLAKE2b-160(refund key). Consensus then forces input 0's witness to be ``[sig, refund key]``,
  which is where the pool operator's adapter reads the refund key: a lock the operator cannot
  rebuild from the chain (and so cannot claim) is refused (``unmarked_lock``, review a11a).
- deposit: output ``vout`` pays BLAKE2b-160(pool claim key); one nulldata ``ETMD || owner20``.
- payment (obligations): one nulldata ``ETMO || ids`` (1..4 ids), output ``vout`` pays
  BLAKE2b-160 of the listed obligations' destination.

Encoding: ``u32 BE len || HnsTxProof || u32 BE vout || u32 BE len || script || u32 BE len ||
previous stripped tx`` (empty script and previous tx for deposits and payments). Pure.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from etm_bridge.errors import ExchangeError, ValidationError
from etm_bridge.exchange.reasons import Reason
from etm_bridge.exchange.utxo_verifier import Included, ProvenOutput, UtxoVerifier
from etm_bridge.observations import HtlcLock, InclusionProof
from etm_bridge.spv.relay_policy import RelayPolicy

from ..spv.header_relay import HandshakeRelay
from ..spv.headers import pow_hash
from ..spv.inclusion import HnsTxProof, check_hns_proof
from ..spv.tx import StrippedTx, TxOut, parse_stripped_tx
from . import scripts
from .genesis import default_policy

BLOCK_TIME_S = 600
PROOF_KIND = "handshake-merkle"
_U32 = struct.Struct(">I")


@dataclass(frozen=True)
class HnsProof:
    tx_proof: HnsTxProof
    vout: int
    witness_script: bytes = b""
    prev_tx: bytes = b""  # stripped tx whose output input 0 spends (locks only)

    def encode(self) -> bytes:
        inner = self.tx_proof.encode()
        return b"".join([
            _U32.pack(len(inner)), inner, _U32.pack(self.vout),
            _U32.pack(len(self.witness_script)), self.witness_script,
            _U32.pack(len(self.prev_tx)), self.prev_tx,
        ])  # fmt: skip

    @classmethod
    def decode(cls, data: bytes) -> HnsProof:
        try:
            (n,) = _U32.unpack_from(data, 0)
            inner = HnsTxProof.decode(data[4 : 4 + n])
            vout, m = struct.unpack_from(">II", data, 4 + n)
            script = data[12 + n : 12 + n + m]
            (k,) = _U32.unpack_from(data, 12 + n + m)
        except struct.error:
            raise ValidationError("handshake exchange proof ends early") from None
        prev = data[16 + n + m :]
        if len(script) != m or len(prev) != k:
            raise ValidationError("handshake exchange proof has the wrong length")
        return cls(inner, vout, script, prev)

    @classmethod
    def from_adapter_proof(
        cls, proof: InclusionProof, vout: int, witness_script: bytes = b"", prev_tx: bytes = b""
    ) -> HnsProof:
        """From the Handshake adapter's ``handshake-merkle`` :class:`InclusionProof`."""
        if proof.kind != PROOF_KIND or proof.tx_count is None:
            raise ValidationError(f"expected a {PROOF_KIND} proof, got {proof.kind!r}")
        tx_proof = HnsTxProof(
            proof.leaf, pow_hash(proof.header), proof.index, proof.tx_count, tuple(proof.branch)
        )
        return cls(tx_proof, vout, witness_script, prev_tx)


def _pays_key(out: TxOut, pubkey: bytes) -> bool:
    return (
        out.address_version == 0
        and out.address_hash == scripts.key_hash(pubkey)
        and out.covenant_type == 0
    )


def require_refund_input(tx: StrippedTx, prev_raw: bytes, refund: bytes) -> None:
    """Raise ``unmarked_lock`` unless input 0 spends a pay-to-key coin of ``refund``."""
    try:
        prev = parse_stripped_tx(prev_raw)
    except ValidationError as exc:
        raise ValidationError(
            f"the previous transaction of input 0 does not parse: {exc}"
        ) from None
    first = tx.inputs[0]
    ok = prev.txid == first.prev_txid and first.prev_index < len(prev.outputs)
    if not ok or not _pays_key(prev.outputs[first.prev_index], refund):
        raise ExchangeError(
            Reason.UNMARKED_LOCK,
            f"input 0 of the lock transaction {tx.txid.hex()} must spend a pay-to-key coin of "
            "the HTLC's refund key (its witness is where the pool operator reads that key): "
            "lock with etm-bridge (swap start)",
        )


def require_lock_marker(tx: StrippedTx, claim: bytes, timelock: int) -> None:
    if scripts.nulldata(tx) != [scripts.lock_marker(claim, timelock)]:
        raise ExchangeError(
            Reason.UNMARKED_LOCK,
            f"the lock transaction {tx.txid.hex()} needs exactly one nulldata output, the marker "
            f"{scripts.MARKER_TAG!r} || claim key || timelock u32 LE of this lock: without it "
            "the pool operator cannot find the lock to claim it. Lock with etm-bridge",
        )


class HnsVerifier(UtxoVerifier[HnsProof, StrippedTx]):
    """The exchange's :class:`~etm_bridge.exchange.txtypes.ForeignVerifier` for Handshake: the
    shared :class:`~etm_bridge.exchange.utxo_verifier.UtxoVerifier` with Handshake's outputs."""

    TICKER, UNIT, BLOCK_TIME_S = "hns", "doo", BLOCK_TIME_S

    def default_policy(self, network: str) -> RelayPolicy:
        return default_policy(network)

    def decode(self, data: bytes) -> HnsProof:
        return HnsProof.decode(data)

    def include(self, relay: HandshakeRelay, proof: HnsProof) -> Included[StrippedTx]:
        confirmed = check_hns_proof(relay, proof.tx_proof, 1)
        return Included(
            confirmed.tx, confirmed.block_hash, confirmed.height, confirmed.confirmations
        )

    def value_of(self, out: TxOut) -> int:
        return out.value

    def pays(self, out: TxOut, key: bytes) -> bool:
        return _pays_key(out, key)

    def txid(self, tx: StrippedTx) -> bytes:
        return tx.txid

    def deposit_owner(self, tx: StrippedTx) -> bytes:
        return scripts.one_tagged(tx, scripts.DEPOSIT_TAG, 20)

    def paid_ids(self, tx: StrippedTx) -> list[int]:
        return scripts.paid_ids(tx)

    def lock_terms(
        self, proven: ProvenOutput[HnsProof, StrippedTx]
    ) -> tuple[bytes, bytes, bytes, int]:
        """Output ``vout`` pays SHA3-256 of the HTLC template (covenant NONE), the transaction
        carries the lock's one marker and input 0 spends a coin of the refund key."""
        p, out = proven.proof, proven.out
        if (out.address_version, out.address_hash, out.covenant_type) != (
            0, scripts.script_hash(p.witness_script), 0
        ):  # fmt: skip
            raise ValidationError("the output does not pay SHA3-256 of the given witness script")
        hashlock, claim, refund, timelock = scripts.parse_htlc_script(p.witness_script)
        require_lock_marker(proven.tx, claim, timelock)
        require_refund_input(proven.tx, p.prev_tx, refund)
        return hashlock, claim, refund, timelock


def lock_proof(lock: HtlcLock, proof: InclusionProof) -> bytes:
    """The ``xchg_swap_in`` proof of a lock the Handshake adapter reported
    (``<txid>:<vout>:<hashlock>``) from its ``handshake-merkle`` proof, whose ``context[0]`` is
    the stripped transaction input 0 spends (without it the verifier refuses the lock)."""
    vout = int(lock.lock_id.split(":")[1])
    t = lock.terms
    script = scripts.htlc_script(t.hashlock, t.claim_key, t.refund_key, t.timelock_height)
    prev = proof.context[0] if proof.context else b""
    return HnsProof.from_adapter_proof(proof, vout, script, prev).encode()
