"""The Bitcoin body of tx 304 ``custody_fraud`` (design-14 section 6.1), parsed and checked.

Body (integers big-endian, as in every ETM payload)::

    u32 + unsigned_tx    witness-stripped serialization (strict parse)
    u16   input_index
    u32 + script_code    the witness script of the signed input
    u64   amount         the prevout value (BIP143 commits to it)
    u8  + signature      DER || hash type

:func:`parse_fraud` computes the BIP143 digest for the signature's own hash type (ALL, NONE,
SINGLE, ANYONECANPAY: any), checks the signature (strict DER, S normalised), and says whether
the script code is a custody script of the accused epoch holding the key: its vault, a swap-in
HTLC v2 whose claim policy is the epoch's, or a counter HTLC v2 whose refund policy is. Whether
the digest is mandated is the generic verdict's (``custody.fraud.judge``). Pure.
"""

from __future__ import annotations

from bitcoin.core import CTransaction
from bitcoin.core.script import SIGVERSION_WITNESS_V0, CScript, SignatureHash

from etm_bridge.chain.codec import U16, U32, U64, Reader
from etm_bridge.custody.records import Reason
from etm_bridge.custody.spec import FraudClaim, FraudContext
from etm_bridge.errors import CustodyError, InclusionProofError, ValidationError

from ..spv.tx import parse_tx
from . import ecdsa
from .scripts import CounterHtlc, KeyPolicy, SwapInHtlc, parse_htlc_script, parse_vault_script

MAX_TX = 100_000
MAX_SCRIPT = 10_000


def encode_body(
    unsigned_tx: bytes, index: int, script_code: bytes, amount: int, signature: bytes
) -> bytes:
    """The body above (integers big-endian, as every ETM payload)."""
    return b"".join(
        [
            U32.pack(len(unsigned_tx)),
            unsigned_tx,
            U16.pack(index),
            U32.pack(len(script_code)),
            script_code,
            U64.pack(amount),
            bytes([len(signature)]),
            signature,
        ]
    )


def script_policy(script_code: bytes) -> KeyPolicy | None:
    """The committee policy of a custody script (None: not one)."""
    try:
        return parse_vault_script(script_code)
    except ValidationError:
        pass
    try:
        htlc = parse_htlc_script(script_code)
    except ValidationError:
        return None
    return htlc.policy if isinstance(htlc, SwapInHtlc | CounterHtlc) else None


def parse_fraud(body: bytes, ctx: FraudContext) -> FraudClaim:
    try:
        r = Reader(body, "bitcoin fraud body")
        raw = r.var_bytes("unsigned tx", MAX_TX)
        index = r.u16("input index")
        script_code = r.var_bytes("script code", MAX_SCRIPT)
        amount = r.u64("amount")
        sig = r.take(r.u8("signature length"), "signature")
        r.done()
        parsed = parse_tx(raw)
        tx = CTransaction.deserialize(raw)
        if tx.has_witness() or tx.serialize() != raw:
            raise ValidationError("the unsigned tx must be witness-stripped and canonical")
        if index >= len(parsed.inputs):
            raise ValidationError(f"input {index} of a {len(parsed.inputs)}-input tx")
        _, hash_type = ecdsa.split_signature(sig)
        digest = bytes(
            SignatureHash(CScript(script_code), tx, index, hash_type, amount, SIGVERSION_WITNESS_V0)
        )
    except (ValidationError, InclusionProofError, ValueError) as exc:
        detail = str(exc)  # the Reader's messages name the body already
        if not detail.startswith("bitcoin fraud body"):
            detail = f"bitcoin fraud body: {detail}"
        raise CustodyError(Reason.MALFORMED_FIELD, detail) from exc
    if ecdsa.verify(ctx.key, digest, sig) is None:
        raise CustodyError(Reason.BAD_FRAUD_SIGNATURE, "the signature is not the key's")
    policy = script_policy(script_code)
    ours = ctx.committee.keys.get(ctx.ticker, ())
    custody = (
        policy is not None
        and ctx.key in policy.keys
        and policy.keys == tuple(ours)
        and policy.m == ctx.committee.m
    )
    return FraudClaim(digest, ctx.key, custody, hash_type == ecdsa.SIGHASH_ALL)
