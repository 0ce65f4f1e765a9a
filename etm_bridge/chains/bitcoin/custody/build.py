"""The one transaction a mandate allows, its BIP143 digests, and its assembly (design-14 2.3, 2.5).

A :class:`SpendPlan` fixes every byte of the unsigned spend: inputs sorted by outpoint (BIP69),
outputs in the mandate kind's order, version 2, every nSequence 0xfffffffd, the locktime, and a
fee written into the outputs (``ceil(fee_rate * vsize_bound)``: the fee paid is exactly ``fee``
whatever the signatures' lengths). ETM stores the plan's encoding (:func:`encode_plan`, the
``spend`` of ``CustodySpec``); digests and txid are pure functions of it.

Assembly (:func:`assemble_from_shares`): for each input, the shares of the **first m members in
key order** whose signatures verify, so every assembler builds the same witness and wtxid.
:func:`assemble` puts given signatures as they are (the node judges their order). Pure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from bitcoin.core import (
    COutPoint,
    CScriptWitness,
    CTransaction,
    CTxIn,
    CTxInWitness,
    CTxOut,
    CTxWitness,
)
from bitcoin.core.script import SIGVERSION_WITNESS_V0, CScript, SignatureHash

from etm_bridge.chain.codec import U16, U32, U64, Reader, sha256d
from etm_bridge.errors import ValidationError

from . import ecdsa
from .scripts import (
    CLAIM_SELECTOR,
    DUMMY,
    PREIMAGE_LEN,
    REFUND_SELECTOR,
    CounterHtlc,
    KeyPolicy,
    SwapInHtlc,
    p2wsh,
    parse_htlc_script,
    parse_vault_script,
)

Branch = Literal["vault", "htlc_claim", "htlc_refund"]
BRANCHES: tuple[Branch, ...] = ("vault", "htlc_claim", "htlc_refund")
SEQUENCE = 0xFFFFFFFD
VERSION = 2
P2WSH_DUST = 330
P2WPKH_DUST = 294
#: Worst-case signature push: 72-byte DER (33-byte R) plus the hash type.
MAX_SIG_LEN = 73
MAX_INPUTS = 250
MAX_OUTPUTS = 16
PLAN_VERSION = 1


@dataclass(frozen=True)
class PlannedInput:
    outpoint: bytes  # txid_le 32 || vout u32 LE
    amount: int
    witness_script: bytes
    branch: Branch

    def __post_init__(self) -> None:
        if len(self.outpoint) != 36:
            raise ValidationError("an outpoint is txid_le 32 || vout u32 LE (36 bytes)")
        if not 0 < self.amount < 2**63 or self.branch not in BRANCHES:
            raise ValidationError(f"bad planned input (amount {self.amount}, {self.branch!r})")
        self.policy()  # the script must carry a committee branch of the right kind

    def policy(self) -> KeyPolicy:
        """The policy whose m signatures this input needs."""
        if self.branch == "vault":
            return parse_vault_script(self.witness_script)
        htlc = parse_htlc_script(self.witness_script)
        if self.branch == "htlc_claim" and isinstance(htlc, SwapInHtlc):
            return htlc.policy
        if self.branch == "htlc_refund" and isinstance(htlc, CounterHtlc):
            return htlc.policy
        raise ValidationError(f"a {self.branch} input needs a v2 HTLC with that committee branch")


@dataclass(frozen=True)
class PlannedOutput:
    script_pubkey: bytes
    amount: int


@dataclass(frozen=True)
class SpendPlan:
    inputs: tuple[PlannedInput, ...]
    outputs: tuple[PlannedOutput, ...]
    locktime: int
    fee: int
    fee_rate: int

    def __post_init__(self) -> None:
        if not 1 <= len(self.inputs) <= MAX_INPUTS or not 1 <= len(self.outputs) <= MAX_OUTPUTS:
            raise ValidationError("a spend plan has 1..250 inputs and 1..16 outputs")
        points = [i.outpoint for i in self.inputs]
        if points != sorted(set(points), key=_bip69):
            raise ValidationError("plan inputs must be distinct and sorted by (txid_le, vout)")
        if self.fee != sum(i.amount for i in self.inputs) - sum(o.amount for o in self.outputs):
            raise ValidationError("plan fee must equal inputs minus outputs")
        if self.fee < 0 or any(o.amount < 0 for o in self.outputs):
            raise ValidationError("plan amounts must not be negative")


def _bip69(outpoint: bytes) -> tuple[bytes, int]:
    return outpoint[:32], int.from_bytes(outpoint[32:], "little")


# --- encoding (what ETM stores) ----------------------------------------------------------------


def encode_plan(plan: SpendPlan) -> bytes:
    parts = [bytes([PLAN_VERSION, len(plan.inputs)])]
    for i in plan.inputs:
        parts += [
            i.outpoint,
            U64.pack(i.amount),
            bytes([BRANCHES.index(i.branch)]),
            U16.pack(len(i.witness_script)),
            i.witness_script,
        ]
    parts.append(bytes([len(plan.outputs)]))
    for o in plan.outputs:
        parts += [U16.pack(len(o.script_pubkey)), o.script_pubkey, U64.pack(o.amount)]
    parts += [U32.pack(plan.locktime), U64.pack(plan.fee), U64.pack(plan.fee_rate)]
    return b"".join(parts)


def decode_plan(raw: bytes) -> SpendPlan:
    r = Reader(raw, "bitcoin custody spend plan")
    if r.u8("version") != PLAN_VERSION:
        raise ValidationError(f"bitcoin custody spend plan: version must be {PLAN_VERSION}")
    inputs = []
    for _ in range(r.u8("input count")):
        point, amount = r.take(36, "outpoint"), r.u64("amount")
        code = r.u8("branch")
        if code >= len(BRANCHES):
            raise ValidationError(f"bitcoin custody spend plan: unknown branch {code}")
        ws = r.take(r.u16("witness script length"), "witness script")
        inputs.append(PlannedInput(point, amount, ws, BRANCHES[code]))
    outputs = []
    for _ in range(r.u8("output count")):
        spk = r.take(r.u16("script length"), "script_pubkey")
        outputs.append(PlannedOutput(spk, r.u64("amount")))
    plan = SpendPlan(
        tuple(inputs), tuple(outputs), r.u32("locktime"), r.u64("fee"), r.u64("fee rate")
    )
    r.done()
    return plan


# --- the transaction ---------------------------------------------------------------------------


def _tx(plan: SpendPlan, witnesses: Sequence[Sequence[bytes]] | None = None) -> CTransaction:
    vin = [
        CTxIn(
            COutPoint(i.outpoint[:32], int.from_bytes(i.outpoint[32:], "little")),
            nSequence=SEQUENCE,
        )
        for i in plan.inputs
    ]
    vout = [CTxOut(o.amount, CScript(o.script_pubkey)) for o in plan.outputs]
    wit = CTxWitness([CTxInWitness(CScriptWitness(list(w))) for w in witnesses or ()])
    return CTransaction(vin, vout, plan.locktime, VERSION, wit)


def unsigned_tx(plan: SpendPlan) -> bytes:
    """The witness-stripped encoding."""
    return _tx(plan).serialize()


def txid(plan: SpendPlan) -> bytes:
    """Internal byte order (``txid_le``, as in outpoints)."""
    return sha256d(unsigned_tx(plan))


def digests(plan: SpendPlan, hash_type: int = ecdsa.SIGHASH_ALL) -> tuple[bytes, ...]:
    """BIP143 digest per input (script code = its witness script)."""
    tx = _tx(plan)
    return tuple(
        bytes(
            SignatureHash(
                CScript(i.witness_script), tx, k, hash_type, i.amount, SIGVERSION_WITNESS_V0
            )
        )
        for k, i in enumerate(plan.inputs)
    )


def _witness_bound(i: PlannedInput) -> list[int]:
    """Item lengths of the largest witness the input can carry."""
    m = i.policy().m
    extra = {"vault": [], "htlc_claim": [PREIMAGE_LEN, 1], "htlc_refund": [0]}[i.branch]
    return [0, *[MAX_SIG_LEN] * m, *extra, len(i.witness_script)]


def _compact(n: int) -> int:
    return 1 if n < 0xFD else 3 if n <= 0xFFFF else 5


def vsize_bound(
    inputs: Sequence[PlannedInput], outputs: Sequence[PlannedOutput], locktime: int = 0
) -> int:
    """Exact base size, worst-case witness (73-byte signatures)."""
    probe = SpendPlan(
        tuple(inputs),
        tuple(outputs),
        locktime,
        sum(i.amount for i in inputs) - sum(o.amount for o in outputs),
        0,
    )
    base = len(unsigned_tx(probe))
    wit = 2 + sum(
        _compact(len(items)) + sum(_compact(n) + n for n in items)
        for items in map(_witness_bound, inputs)
    )
    return math.ceil((4 * base + wit) / 4)


def fee_for(
    fee_rate: int,
    inputs: Sequence[PlannedInput],
    outputs: Sequence[PlannedOutput],
    locktime: int = 0,
) -> int:
    return math.ceil(fee_rate * vsize_bound(inputs, outputs, locktime))


def sort_inputs(inputs: Sequence[PlannedInput]) -> tuple[PlannedInput, ...]:
    return tuple(sorted(inputs, key=lambda i: _bip69(i.outpoint)))


def pay_with_change(
    inputs: Sequence[PlannedInput],
    payments: Sequence[PlannedOutput],
    change_script: bytes,
    fee_rate: int,
    locktime: int = 0,
) -> SpendPlan:
    """``payments`` in order, then change to ``change_script`` (dropped below 330 sat: the fee
    takes it). ValidationError if the inputs cannot pay."""
    ins = sort_inputs(inputs)
    total, paid = sum(i.amount for i in ins), sum(o.amount for o in payments)
    with_change = (*payments, PlannedOutput(change_script, 0))
    fee = fee_for(fee_rate, ins, with_change, locktime)
    change = total - paid - fee
    if change >= P2WSH_DUST:
        outs = (*payments, PlannedOutput(change_script, change))
        return SpendPlan(ins, outs, locktime, fee, fee_rate)
    fee = fee_for(fee_rate, ins, payments, locktime)
    if total - paid < fee:
        raise ValidationError(f"inputs of {total} sat cannot pay {paid} sat plus a {fee} sat fee")
    return SpendPlan(ins, tuple(payments), locktime, total - paid, fee_rate)


def sweep(
    inputs: Sequence[PlannedInput], script_pubkey: bytes, fee_rate: int, locktime: int = 0
) -> SpendPlan:
    """Everything to one output (claim, refund, rotation sweep, cancel), less the fee."""
    ins = sort_inputs(inputs)
    total = sum(i.amount for i in ins)
    fee = fee_for(fee_rate, ins, (PlannedOutput(script_pubkey, 0),), locktime)
    if total - fee < P2WSH_DUST:
        raise ValidationError(f"inputs of {total} sat leave less than {P2WSH_DUST} after {fee} fee")
    return SpendPlan(ins, (PlannedOutput(script_pubkey, total - fee),), locktime, fee, fee_rate)


def vault_input(outpoint: bytes, amount: int, policy: KeyPolicy) -> PlannedInput:
    return PlannedInput(outpoint, amount, policy.vault_script(), "vault")


def vault_script_pubkey(policy: KeyPolicy) -> bytes:
    return p2wsh(policy.vault_script())


# --- signing and assembly ----------------------------------------------------------------------


def sign_plan(plan: SpendPlan, secret: bytes) -> tuple[bytes, ...]:
    """One member's share: its signature of every input (RFC 6979, low S, SIGHASH_ALL)."""
    return tuple(ecdsa.sign(secret, d) for d in digests(plan))


def _witness(i: PlannedInput, sigs: Sequence[bytes], preimage: bytes | None) -> list[bytes]:
    if i.branch == "vault":
        return [DUMMY, *sigs, i.witness_script]
    if i.branch == "htlc_refund":
        return [DUMMY, *sigs, REFUND_SELECTOR, i.witness_script]
    if preimage is None or len(preimage) != PREIMAGE_LEN:
        raise ValidationError("a swap-in claim input needs its 32-byte preimage")
    return [DUMMY, *sigs, preimage, CLAIM_SELECTOR, i.witness_script]


def assemble(
    plan: SpendPlan, signatures: Mapping[int, Sequence[bytes]], preimage: bytes | None = None
) -> bytes:
    """The signed transaction with ``signatures[i]`` placed as given (no check, no reorder)."""
    wits = [_witness(i, signatures.get(k, ()), preimage) for k, i in enumerate(plan.inputs)]
    return _tx(plan, wits).serialize()


def select_shares(
    plan: SpendPlan, shares: Mapping[bytes, Sequence[bytes]]
) -> dict[int, list[bytes]]:
    """Per input, the valid signatures of the first m members in key order.

    ``shares``: member key -> its signature of every input. ValidationError naming the input
    when fewer than m members signed it validly."""
    chosen: dict[int, list[bytes]] = {}
    for k, (inp, digest) in enumerate(zip(plan.inputs, digests(plan), strict=True)):
        policy = inp.policy()
        sigs = []
        for key in policy.keys:
            share = shares.get(key, ())
            if len(share) == len(plan.inputs) and ecdsa.verify_share(digest, key, share[k]):
                sigs.append(share[k])
            if len(sigs) == policy.m:
                break
        if len(sigs) < policy.m:
            raise ValidationError(
                f"input {k}: {len(sigs)} valid shares, {policy.m} needed: wait for more signers"
            )
        chosen[k] = sigs
    return chosen


def assemble_from_shares(
    plan: SpendPlan, shares: Mapping[bytes, Sequence[bytes]], preimage: bytes | None = None
) -> bytes:
    return assemble(plan, select_shares(plan, shares), preimage)
