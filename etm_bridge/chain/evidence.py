"""Double-forging evidence: two different headers one delegate signed for one slot (pure).

A delegate that signs two blocks for one slot (two machines running its key, or a forger that
re-signs after a crash or a reorg without slashing protection) makes a fork nobody can resolve
by the rules alone; two such headers are the proof the chain slashes for
(``tx_slash.py``, type 5 ``double_forging_proof``, whose payload is :meth:`DoubleForgingEvidence.
encode`). Validity (:func:`check_pair`): the same generator key, the same slot, different ids,
both headers for *this* network (the network id is signed: a key reused on another network never
makes evidence here) and both signatures valid in *this* chain's signing domain (its genesis id,
``block.BlockHeader.signing_root``: every ``node init`` chain shares the network id and the
development keys, so a header signed on another chain of the same network is no evidence here).
The generator must be a registered, unslashed delegate for the evidence to be worth anything
(``Chain.note_evidence`` checks that against state).

The API the peer protocol calls lives on ``ledger.Chain``::

    chain.note_evidence(header_a: BlockHeader | bytes, header_b: BlockHeader | bytes) -> bool
        # (alias: chain.report_double_forging, the name node.p2p.gossip looks for)
        # headers as objects or 296-byte encodings (ValidationError if malformed);
        # EvidenceRejectedError, a ValidationError, if the pair is not evidence on this network
        # (reasons: not_double_forging, wrong_network, bad_signature: the sender is at fault);
        # False if already known or worthless (generator unknown here or already slashed);
        # True if new: it is then in pending_evidence() and the next block this node forges
        # carries the slashing transaction.
    chain.pending_evidence() -> list[tuple[bytes, bytes]]
        # encoded header pairs against delegates not slashed at the tip, oldest first (gossip)
    chain.evidence_to_slash() -> list[DoubleForgingEvidence]   # the same, as objects

    DoubleForgingEvidence.decode(raw) / .encode()   # two headers, 2 * HEADER_BYTES (tx payload)
    evidence.id (sha256 of the encoding, for de-duplication), .offender, .first, .second

The chain also finds evidence by itself: ``Chain.apply_block`` compares every arriving block
with the block it already saw from the same delegate for the same slot (:class:`HeaderIndex`,
recent headers, and the main chain at the block's height), whether the arriving block is applied,
kept as a side block or rejected (as long as its signature verifies).

:class:`EvidencePool` keeps at most one piece of evidence per offender (one is enough to slash)
and at most ``capacity`` in all, dropping the oldest: a peer cannot grow it without delegates'
signatures, and each delegate costs a deposit.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property

from ..errors import EvidenceRejectedError, ValidationError
from .block import HEADER_BYTES, BlockHeader
from .codec import sha256
from .params import ChainParams


@dataclass(frozen=True)
class DoubleForgingEvidence:
    """Two headers; :meth:`of` orders them by id so a pair has one encoding."""

    first: BlockHeader
    second: BlockHeader

    @classmethod
    def of(cls, a: BlockHeader, b: BlockHeader) -> DoubleForgingEvidence:
        return cls(a, b) if a.id <= b.id else cls(b, a)

    @property
    def offender(self) -> bytes:
        return self.first.generator_public_key

    def encode(self) -> bytes:
        return self.first.encoded + self.second.encoded

    @cached_property
    def id(self) -> bytes:
        return sha256(self.encode())

    @classmethod
    def decode(cls, raw: bytes) -> DoubleForgingEvidence:
        """From the wire (or a slashing tx's payload); ValidationError names what was wrong."""
        if len(raw) != 2 * HEADER_BYTES:
            raise ValidationError(
                f"double-forging evidence must be two {HEADER_BYTES}-byte headers, got {len(raw)}"
            )
        return cls(BlockHeader.decode(raw[:HEADER_BYTES]), BlockHeader.decode(raw[HEADER_BYTES:]))


def check_pair(
    params: ChainParams, genesis_id: bytes, a: BlockHeader, b: BlockHeader, signatures: bool = True
) -> None:
    """Raise EvidenceRejectedError unless ``a`` and ``b`` prove double forging on the chain of
    ``genesis_id`` (its network, its signing domain). ``signatures=False``: every check but the
    two signature verifications (the costly part)."""
    if a.id == b.id:
        raise EvidenceRejectedError("not_double_forging", "the two headers are the same block")
    if a.generator_public_key != b.generator_public_key:
        raise EvidenceRejectedError("not_double_forging", "the headers have different generators")
    slot_a, slot_b = params.slot_of(a.timestamp), params.slot_of(b.timestamp)
    if slot_a != slot_b:
        detail = f"headers are in slots {slot_a} and {slot_b}"
        raise EvidenceRejectedError("not_double_forging", detail)
    for h in (a, b):
        if h.network != params.network_id:
            raise EvidenceRejectedError("wrong_network", f"a header is for network {h.network:#x}")
    if signatures and not (a.signature_ok(genesis_id) and b.signature_ok(genesis_id)):
        raise EvidenceRejectedError(
            "bad_signature", "a header's block signature does not verify for this chain's genesis"
        )


class EvidencePool:
    """At most one piece of evidence per offender, at most ``capacity`` in all (oldest dropped)."""

    def __init__(self, capacity: int = 1_000):
        self.capacity = capacity
        self._by_offender: OrderedDict[bytes, DoubleForgingEvidence] = OrderedDict()

    def add(self, evidence: DoubleForgingEvidence) -> bool:
        if evidence.offender in self._by_offender:
            return False
        self._by_offender[evidence.offender] = evidence
        while len(self._by_offender) > self.capacity:
            self._by_offender.popitem(last=False)
        return True

    def all(self) -> list[DoubleForgingEvidence]:
        return list(self._by_offender.values())

    def __len__(self) -> int:
        return len(self._by_offender)


class HeaderIndex:
    """The last ``capacity`` signature-checked headers seen, by (generator, slot)."""

    def __init__(self, capacity: int = 4_096):
        self.capacity = capacity
        self._seen: OrderedDict[tuple[bytes, int], BlockHeader] = OrderedDict()

    def get(self, generator: bytes, slot: int) -> BlockHeader | None:
        return self._seen.get((generator, slot))

    def remember(self, header: BlockHeader, slot: int) -> None:
        key = (header.generator_public_key, slot)
        if key in self._seen:
            return  # keep the first header seen; a conflicting one is evidence, not a successor
        self._seen[key] = header
        while len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
