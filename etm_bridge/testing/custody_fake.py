"""A UTXO-model :class:`~etm_bridge.custody.spec.CustodySpec` with ed25519 k-of-n vaults, for tests.

It lets custody's core, the signer and the node be tested without a real chain (design-14
sections 10.3 and 12, K0). Nothing here is a real chain's format:

* **Policy**: ``0xa0 || m u8 || n u8 || key_1 .. key_n`` (32-byte ed25519 keys, ascending);
  the vault's **destination** is ``sha256("fake-custody vault\\x00" || policy)``.
* **Spend** (unsigned): ``"FCS1" || u8 inputs || inputs x (outpoint 36 || amount u64 ||
  u8 + policy) || u8 outputs || outputs x (u8 + destination || amount u64) || u32 locktime``
  (integers big-endian; an outpoint is ``txid 32 || vout u32``). Input ``i``'s **digest** is
  ``sha256("fake-custody sighash\\x00" || spend || u16 i)``; the **txid** is ``sha256d(spend)``.
* **Signed transaction**: ``spend || inputs x (u8 count || count x signature 64)``, the
  signatures in key order (as CHECKMULTISIG walks them); valid iff each input has m signatures
  of distinct policy keys over its digest.

:class:`FakeCustodyLedger` is the "chain": the outputs paid to destinations and the spends it
accepted, attached by name to a :class:`~etm_bridge.testing.fakechain.FakeChain` (its heights).
An outcome proof is the signed transaction plus the height it was accepted at: :func:`outcome`
accepts only a transaction whose every input carries m valid signatures (the fake's stand-in
for an SPV proof).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..chain import keys
from ..chain.codec import U16, U32, U64, Reader, sha256, sha256d
from ..custody.records import Committee, CustodyUtxo, MandateKind, Reason
from ..custody.spec import (
    CreatedOutput,
    CustodyGenesisPart,
    CustodyModel,
    CustodySpec,
    EncodedSpend,
    FraudClaim,
    FraudContext,
    ProvenOutcome,
    SpendRequest,
    VaultInfo,
    ascending_keys,
)
from ..errors import ConfigError, CustodyError, InvalidTransactionError, ValidationError
from .fakechain import FakeChain

POLICY_PREFIX = 0xA0
MAGIC = b"FCS1"
KEY_LEN = 32
SIG_LEN = 64
MAX_ITEMS = 50
#: The spend's size-based fee: ``fee_rate * (BASE + PER_INPUT * inputs + PER_OUTPUT * outputs)``.
BASE, PER_INPUT, PER_OUTPUT = 10, 40 + 32 * 15, 40


def policy(m: int, members: Sequence[bytes]) -> bytes:
    """The k-of-n policy bytes of ``members`` (sorted here), ``1 <= m <= n <= 15``."""
    ordered = sorted(members)
    if not 1 <= m <= len(ordered) <= 15 or any(len(k) != KEY_LEN for k in ordered):
        raise ValidationError(f"a fake policy needs 1 <= m <= n <= 15 keys of 32 bytes, m={m}")
    if len(set(ordered)) != len(ordered):
        raise ValidationError("a fake policy's keys must be distinct")
    return bytes([POLICY_PREFIX, m, len(ordered)]) + b"".join(ordered)


def parse_policy(raw: bytes) -> tuple[int, tuple[bytes, ...]]:
    """``(m, keys)`` of policy bytes (strict)."""
    if len(raw) < 3 or raw[0] != POLICY_PREFIX or len(raw) != 3 + KEY_LEN * raw[2]:
        raise ValidationError("not a fake custody policy")
    m, n = raw[1], raw[2]
    found = tuple(raw[3 + KEY_LEN * i : 3 + KEY_LEN * (i + 1)] for i in range(n))
    if not 1 <= m <= n <= 15 or list(found) != sorted(set(found)):
        raise ValidationError("fake custody policy keys must be 1..15, ascending, m <= n")
    return m, found


def destination(policy_bytes: bytes) -> bytes:
    return sha256(b"fake-custody vault\x00" + policy_bytes)


def outpoint(txid: bytes, vout: int) -> bytes:
    return txid + U32.pack(vout)


@dataclass(frozen=True)
class SpendInput:
    outpoint: bytes
    amount: int
    policy: bytes


@dataclass(frozen=True)
class Spend:
    inputs: tuple[SpendInput, ...]
    outputs: tuple[tuple[bytes, int], ...]  # (destination, amount)
    locktime: int = 0

    def encode(self) -> bytes:
        out = [MAGIC, bytes([len(self.inputs)])]
        for i in self.inputs:
            out += [i.outpoint, U64.pack(i.amount), bytes([len(i.policy)]), i.policy]
        out.append(bytes([len(self.outputs)]))
        for dest, amount in self.outputs:
            out += [bytes([len(dest)]), dest, U64.pack(amount)]
        out.append(U32.pack(self.locktime))
        return b"".join(out)


def _read_spend(r: Reader) -> Spend:
    if r.take(4, "magic") != MAGIC:
        raise ValidationError("not a fake custody spend")
    inputs = []
    for _ in range(_count(r, "inputs")):
        op, amount = r.take(36, "outpoint"), r.u64("amount")
        inputs.append(SpendInput(op, amount, r.take(r.u8("policy length"), "policy")))
    outputs = []
    for _ in range(_count(r, "outputs")):
        dest = r.take(r.u8("destination length"), "destination")
        outputs.append((dest, r.u64("output amount")))
    return Spend(tuple(inputs), tuple(outputs), r.u32("locktime"))


def _count(r: Reader, what: str) -> int:
    n = r.u8(what)
    if not 1 <= n <= MAX_ITEMS:
        raise ValidationError(f"fake custody spend: {n} {what}, must be 1..{MAX_ITEMS}")
    return n


def decode_spend(raw: bytes) -> Spend:
    r = Reader(raw, "fake custody spend")
    spend = _read_spend(r)
    r.done()
    return spend


def digests(raw: bytes) -> tuple[bytes, ...]:
    spend = decode_spend(raw)
    return tuple(
        sha256(b"fake-custody sighash\x00" + raw + U16.pack(i)) for i in range(len(spend.inputs))
    )


def txid(raw: bytes) -> bytes:
    return sha256d(raw)


def verify_share(digest: bytes, key: bytes, signature: bytes) -> bool:
    return keys.verify(key, digest, signature)


def assemble(
    spend: bytes, signatures: Mapping[int, Sequence[bytes]], extras: Mapping[str, bytes]
) -> bytes:
    """The signed transaction: ``signatures[i]`` must already be in key order."""
    n = len(decode_spend(spend).inputs)
    parts = [spend]
    for i in range(n):
        sigs = list(signatures.get(i, ()))
        parts += [bytes([len(sigs)]), *sigs]
    return b"".join(parts)


def decode_signed(raw: bytes) -> tuple[bytes, Spend, tuple[tuple[bytes, ...], ...]]:
    """``(unsigned spend, spend, signatures per input)`` of a signed transaction."""
    r = Reader(raw, "fake custody transaction")
    spend = _read_spend(r)
    unsigned = raw[: r.pos]
    sigs = tuple(
        tuple(r.take(SIG_LEN, "signature") for _ in range(r.u8("signature count")))
        for _ in spend.inputs
    )
    r.done()
    return unsigned, spend, sigs


def check_signed(raw: bytes) -> tuple[bytes, Spend]:
    """Raise InvalidTransactionError unless every input has m valid signatures in key order."""
    try:
        unsigned, spend, sigs = decode_signed(raw)
        m_keys = [parse_policy(i.policy) for i in spend.inputs]
    except ValidationError as exc:
        raise InvalidTransactionError(f"malformed fake custody transaction: {exc}") from exc
    for i, (digest, (m, members), given) in enumerate(
        zip(digests(unsigned), m_keys, sigs, strict=True)
    ):
        if not _multisig_ok(digest, m, members, given):
            raise InvalidTransactionError(f"input {i}: fewer than {m} valid signatures in order")
    return unsigned, spend


def _multisig_ok(digest: bytes, m: int, members: tuple[bytes, ...], sigs: Sequence[bytes]) -> bool:
    if len(sigs) != m:
        return False
    k = 0
    for sig in sigs:  # CHECKMULTISIG: keys and signatures walk one way
        while k < len(members) and not keys.verify(members[k], digest, sig):
            k += 1
        if k == len(members):
            return False
        k += 1
    return True


# --- the spec -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeCustodyConfig:
    """The genesis block ``plugins.custody.<ticker>`` of the fake chain."""

    ticker: str = "fake"
    fee_rate: int = 1

    @staticmethod
    def from_json(raw: Mapping[str, Any]) -> FakeCustodyConfig:
        rate = raw.get("fee_rate", 1)
        if not isinstance(rate, int) or isinstance(rate, bool) or rate < 0:
            raise ConfigError(f"plugins.custody.<fake>.fee_rate must be an int >= 0, got {rate!r}")
        return FakeCustodyConfig(str(raw.get("ticker", "fake")), rate)

    def to_json(self) -> dict[str, Any]:
        return {"fee_rate": self.fee_rate, "ticker": self.ticker}


def vault(committee: Committee, cfg: FakeCustodyConfig) -> VaultInfo:
    pol = policy(committee.m, committee.keys[cfg.ticker])
    return VaultInfo(pol, destination(pol), "fake1" + destination(pol)[:20].hex())


def spend_fee(fee_rate: int, inputs: int, outputs: int) -> int:
    return fee_rate * (BASE + PER_INPUT * inputs + PER_OUTPUT * outputs)


def build(req: SpendRequest, utxos: Sequence[CustodyUtxo], cfg: FakeCustodyConfig) -> EncodedSpend:
    """Spend ``utxos`` (the vault's, sorted by outpoint) for the mandate: a payout of
    ``terms["amount"]`` to ``terms["destination"]`` (hex) plus change, or everything to the
    vault (sweep, cancel)."""
    signing = policy(req.committee.m, req.committee.keys[cfg.ticker])  # the inputs' vault
    ins = tuple(SpendInput(u.outpoint, u.amount, signing) for u in sorted(
        utxos, key=lambda u: u.outpoint))  # fmt: skip
    total = sum(u.amount for u in ins)
    if req.kind in (MandateKind.ROTATION_SWEEP, MandateKind.CANCEL):
        fee = spend_fee(req.fee_rate, len(ins), 1)
        outs: tuple[tuple[bytes, int], ...] = ((req.vault.destination, total - fee),)
    else:
        amount = int(req.terms["amount"])
        fee = spend_fee(req.fee_rate, len(ins), 2)
        change = total - amount - fee
        if change < 0:
            raise CustodyError(Reason.BAD_PARAMETER, f"inputs {total} cannot pay {amount} + {fee}")
        payee = bytes.fromhex(req.terms["destination"])
        outs = ((payee, amount),) + (((req.vault.destination, change),) if change else ())
    return EncodedSpend(Spend(ins, outs).encode(), tuple(i.outpoint for i in ins), fee)


def fraud(body: bytes, ctx: FraudContext) -> FraudClaim:
    """Body: ``u32 + spend || u16 input || signature 64``."""
    try:
        r = Reader(body, "fake fraud body")
        raw = r.var_bytes("spend", 1 << 16)
        index, sig = r.u16("input"), r.take(SIG_LEN, "signature")
        r.done()
        spend = decode_spend(raw)
        m, members = parse_policy(spend.inputs[index].policy)
    except (ValidationError, IndexError) as exc:
        raise CustodyError(Reason.MALFORMED_FIELD, f"fraud body: {exc}") from exc
    digest = digests(raw)[index]
    if not keys.verify(ctx.key, digest, sig):
        raise CustodyError(Reason.BAD_FRAUD_SIGNATURE, "the signature is not the key's")
    ours = ctx.committee.keys.get(ctx.ticker, ())
    script = ctx.key in members and members == tuple(ours) and m == ctx.committee.m
    return FraudClaim(digest, ctx.key, script, True)


def outcome(view: Any, proof: bytes, ctx: Any) -> ProvenOutcome:
    """Proof: ``u32 height || signed transaction`` (see the module docstring)."""
    try:
        height = Reader(proof, "fake outcome proof").u32("height")
        unsigned, spend = check_signed(proof[4:])
    except (InvalidTransactionError, ValidationError) as exc:
        raise CustodyError(Reason.OUTCOME_MISMATCH, f"not a valid fake spend: {exc}") from exc
    tid = txid(unsigned)
    created = tuple(
        CreatedOutput(outpoint(tid, k), amount, dest)
        for k, (dest, amount) in enumerate(spend.outputs)
    )
    return ProvenOutcome(tid, int(height), tid, tuple(i.outpoint for i in spend.inputs), created)


def fake_custody_spec(ticker: str = "fake") -> CustodySpec:
    kinds = frozenset(
        {
            MandateKind.COUNTER_LOCK,
            MandateKind.LP_WITHDRAW,
            MandateKind.ROTATION_SWEEP,
            MandateKind.CANCEL,
            MandateKind.POOL_CREATE,
        }
    )
    return CustodySpec(
        model=CustodyModel.UTXO,
        kinds=kinds,
        key_len=KEY_LEN,
        sort_keys=ascending_keys,
        genesis=CustodyGenesisPart(
            FakeCustodyConfig.from_json,
            FakeCustodyConfig.to_json,
            lambda: FakeCustodyConfig(ticker),
        ),
        vault=vault,
        build=build,
        digests=digests,
        txid=txid,
        verify_share=verify_share,
        fraud=fraud,
        outcome=outcome,
        assemble=assemble,
        extra={"ticker": ticker},
    )


# --- the "chain" --------------------------------------------------------------------------------


@dataclass
class FakeCustodyLedger:
    """The fake chain's custody outputs: payments to destinations and k-of-n spends of them."""

    chain: FakeChain
    outputs: dict[bytes, tuple[bytes, int]] = field(default_factory=dict)  # outpoint -> (dest, amt)
    spent: dict[bytes, bytes] = field(default_factory=dict)  # outpoint -> spending txid
    accepted: dict[bytes, tuple[bytes, int]] = field(default_factory=dict)  # txid -> (raw, height)
    _by_name: ClassVar[dict[str, FakeCustodyLedger]] = {}

    @classmethod
    def named(cls, name: str) -> FakeCustodyLedger:
        if name not in cls._by_name:
            cls._by_name[name] = cls(FakeChain.named(name))
        return cls._by_name[name]

    @classmethod
    def forget(cls, name: str) -> None:
        cls._by_name.pop(name, None)

    def pay(self, dest: bytes, amount: int) -> bytes:
        """A payment from outside (deposit, donation): returns the new outpoint."""
        n = len(self.accepted) + len(self.outputs)
        tid = sha256d(b"fake-custody payment" + U64.pack(n) + dest + U64.pack(amount))
        self.outputs[outpoint(tid, 0)] = (dest, amount)
        return outpoint(tid, 0)

    def submit(self, signed: bytes) -> bytes:
        """Accept a signed spend (InvalidTransactionError as a node would refuse it)."""
        unsigned, spend = check_signed(signed)
        tid = txid(unsigned)
        if tid in self.accepted:
            return tid
        for i in spend.inputs:
            have = self.outputs.get(i.outpoint)
            if have is None or i.outpoint in self.spent:
                raise InvalidTransactionError(f"input {i.outpoint.hex()} is missing or spent")
            if have != (destination(i.policy), i.amount):
                raise InvalidTransactionError(f"input {i.outpoint.hex()} is not that policy's")
        if sum(a for _, a in spend.outputs) > sum(i.amount for i in spend.inputs):
            raise InvalidTransactionError("outputs exceed inputs")
        for i in spend.inputs:
            self.spent[i.outpoint] = tid
        for k, (dest, amount) in enumerate(spend.outputs):
            self.outputs[outpoint(tid, k)] = (dest, amount)
        self.accepted[tid] = (signed, self.chain.tip_height + 1)
        return tid

    def proof(self, tid: bytes) -> bytes:
        """The outcome proof of an accepted spend (``u32 height || signed tx``)."""
        signed, height = self.accepted[tid]
        return U32.pack(height) + signed
