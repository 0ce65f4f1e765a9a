"""An Ethereum header relay from a trusted checkpoint, and receipt proofs against it.

Trust model (stated plainly; docs/spv.md has the long form): post-merge headers have no proof
of work, and this relay does not verify beacon-chain sync-committee signatures, so anyone could
fabricate a header chain that passes every continuity rule (:func:`.headers.check_child`). Who
decides which headers count is the relay's **mode**, fixed at genesis:

* ``unsafe_trusted_relayers`` (no ``mode`` key; every chain before issue 14): headers only from
  the trusted relayer keys fixed with the checkpoint, and the highest block number wins (first
  seen on ties). One such key (the public development key by default) can relay a forged header
  and prove a receipt that never happened.
* ``committee``: anyone may relay headers (stored, continuity checked), but they move neither
  the tip nor the best-chain index; the tip is the header that m members of the newest custody
  committee attest (tx 113, :mod:`.attestation`), and the best-chain index is re-pointed to it.

Store layout: ``h<hash>`` -> header RLP; ``n<number u64 BE>`` -> best-chain hash; ``tip``;
``meta`` -> checkpoint number u64 | checkpoint hash | relayer keys (32 bytes each). Committee
mode only: ``mode`` -> ``committee``; ``p<hash>`` -> parent hash (the walks' compact index);
``attest`` -> the members' latest attestations; ``relayed`` -> number u64 | hash of the
highest stored header (first seen on ties: where relayers continue from).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from etm_bridge.chains.ethereum.spv.attestation import (
    Attestation,
    attested_tip,
    decode_attestations,
    encode_attestations,
    with_attestation,
)
from etm_bridge.chains.ethereum.spv.headers import (
    EthChainParams,
    EthHeader,
    EthReceipt,
    check_child,
    decode_receipt,
    parse_header,
    verify_receipt_proof,
)
from etm_bridge.errors import ConfigError, HeaderRejectedError, InclusionProofError
from etm_bridge.spv.kvstore import KeyValueStore

#: The relay modes (genesis ``eth_attestation``; absent: the unsafe legacy rule).
UNSAFE_TRUSTED_RELAYERS, COMMITTEE = "unsafe_trusted_relayers", "committee"
MODES = (UNSAFE_TRUSTED_RELAYERS, COMMITTEE)


@dataclass(frozen=True)
class EthBatchResult:
    accepted: int
    tip: EthHeader
    reorg: bool


class EthRelay:
    """The Ethereum header tree of one chain over a :class:`KeyValueStore` (mutable)."""

    def __init__(self, store: KeyValueStore, params: EthChainParams) -> None:
        meta = store.get(b"meta")
        if meta is None:
            raise ConfigError(f"the {params.name} relay is not initialised (no checkpoint)")
        self.store = store
        self.params = params
        self.checkpoint_number = struct.unpack_from(">Q", meta)[0]
        self.checkpoint_hash = meta[8:40]
        self.relayers = frozenset(meta[i : i + 32] for i in range(40, len(meta), 32))
        committee = store.get(b"mode") == COMMITTEE.encode()
        self.mode = COMMITTEE if committee else UNSAFE_TRUSTED_RELAYERS

    @classmethod
    def initialise(
        cls,
        store: KeyValueStore,
        params: EthChainParams,
        checkpoint_rlp: bytes,
        relayers: Sequence[bytes],
        mode: str = UNSAFE_TRUSTED_RELAYERS,
    ) -> EthRelay:
        """Store the trusted checkpoint header, the mode and the trusted relayer keys (the
        unsafe mode needs at least one; committee mode refuses any)."""
        if store.get(b"meta") is not None:
            raise ConfigError(f"the {params.name} relay is already initialised")
        if mode not in MODES:
            raise ConfigError(f"unknown Ethereum relay mode {mode!r} (one of {list(MODES)})")
        if mode == COMMITTEE and relayers:
            raise ConfigError(
                "a committee-attested Ethereum relay takes no trusted relayer keys (anyone may "
                "relay; the committee attests): leave eth_relayers empty"
            )
        if mode != COMMITTEE and (not relayers or any(len(k) != 32 for k in relayers)):
            raise ConfigError("an Ethereum relay needs at least one 32-byte relayer key")
        header = parse_header(checkpoint_rlp, params)
        meta = struct.pack(">Q", header.number) + header.hash + b"".join(sorted(relayers))
        items = {
            b"meta": meta,
            b"h" + header.hash: header.rlp,
            b"n" + header.number.to_bytes(8, "big"): header.hash,
            b"tip": header.hash,
        }
        if mode == COMMITTEE:
            items[b"mode"] = COMMITTEE.encode()
            items[b"relayed"] = struct.pack(">Q", header.number) + header.hash
        store.write_batch(items)
        return cls(store, params)

    def get(self, block_hash: bytes) -> EthHeader | None:
        raw = self.store.get(b"h" + block_hash)
        return parse_header(raw, self.params) if raw is not None else None

    def tip(self) -> EthHeader:
        tip_hash = self.store.get(b"tip")
        header = self.get(tip_hash) if tip_hash is not None else None
        if header is None:
            raise ConfigError(f"the {self.params.name} relay store has no tip")
        return header

    def best_hash_at(self, number: int) -> bytes | None:
        if not self.checkpoint_number <= number <= self.tip().number:
            return None
        return self.store.get(b"n" + number.to_bytes(8, "big"))

    def confirmations(self, block_hash: bytes) -> int:
        """1 for the tip; 0 when unknown or not in the best chain."""
        header = self.get(block_hash)
        if header is None or self.best_hash_at(header.number) != block_hash:
            return 0
        return self.tip().number - header.number + 1

    def validate_headers(
        self, headers_rlp: Sequence[bytes], relayer: bytes
    ) -> tuple[dict[bytes, bytes], EthHeader]:
        """Check a batch without storing it; returns (the writes, the new tip)."""
        if self.mode == COMMITTEE:
            return self._validate_open(headers_rlp), self.tip()
        if relayer not in self.relayers:
            raise HeaderRejectedError(
                "untrusted-relayer", "this key may not relay Ethereum headers"
            )
        tip = self.tip()
        pending: dict[bytes, EthHeader] = {}
        best: dict[int, bytes] = {}
        top = tip.number
        for index, raw in enumerate(headers_rlp):
            with _numbered(index):
                header = parse_header(raw, self.params)
                if header.hash in pending or self.store.get(b"h" + header.hash) is not None:
                    raise HeaderRejectedError("duplicate", f"block {header.hash_hex} is stored")
                self._check_parent(header, pending)
            pending[header.hash] = header
            if header.number > tip.number:
                self._reindex(header, pending, best, top)
                tip = header
        items = {b"h" + h.hash: h.rlp for h in pending.values()}
        items.update({b"n" + n.to_bytes(8, "big"): h for n, h in best.items()})
        items[b"tip"] = tip.hash
        return items, tip

    def _validate_open(self, headers_rlp: Sequence[bytes]) -> dict[bytes, bytes]:
        """Committee mode: anyone's batch, continuity checked, stored with parent links; it
        moves nothing. Headers already stored are skipped (relayers race); a batch with
        nothing new is refused ``duplicate``."""
        pending: dict[bytes, EthHeader] = {}
        relayed = self.relayed_tip()
        for index, raw in enumerate(headers_rlp):
            with _numbered(index):
                header = parse_header(raw, self.params)
                if header.hash in pending:
                    raise HeaderRejectedError("duplicate", f"block {header.hash_hex} twice")
                if self.store.get(b"h" + header.hash) is not None:
                    continue
                self._check_parent(header, pending)
            pending[header.hash] = header
            if header.number > relayed[0]:
                relayed = (header.number, header.hash)
        if not pending:
            raise HeaderRejectedError("duplicate", "every header of the batch is stored")
        items = {b"h" + h.hash: h.rlp for h in pending.values()}
        items.update({b"p" + h.hash: h.parent_hash for h in pending.values()})
        items[b"relayed"] = struct.pack(">Q", relayed[0]) + relayed[1]
        return items

    def _check_parent(self, header: EthHeader, pending: Mapping[bytes, EthHeader]) -> None:
        """``header`` continues its parent, earlier in the batch (``pending``) or stored."""
        parent = pending.get(header.parent_hash) or self.get(header.parent_hash)
        if parent is None:
            raise HeaderRejectedError("bad-parent", "the parent is not in the relay")
        check_child(parent, header, self.params)

    def relayed_tip(self) -> tuple[int, bytes]:
        """The highest stored header (committee mode; the tip otherwise)."""
        raw = self.store.get(b"relayed")
        if raw is None:
            tip = self.tip()
            return tip.number, tip.hash
        return struct.unpack_from(">Q", raw)[0], raw[8:40]

    def attestations(self) -> list[Attestation]:
        return decode_attestations(self.store.get(b"attest"))

    def validate_attestation(
        self, member: bytes, number: int, block_hash: bytes, members: frozenset[bytes], m: int
    ) -> tuple[dict[bytes, bytes], EthHeader]:
        """Committee mode: ``member``'s new latest attestation, the attested tip it gives and
        the best-chain index re-pointed to it; returns (the writes, the tip)."""
        if self.mode != COMMITTEE:
            raise HeaderRejectedError(
                "not-committee-mode", "this Ethereum relay takes headers from trusted relayers"
            )
        header = self.get(block_hash)
        if header is None:
            raise HeaderRejectedError("unknown-block", f"block 0x{block_hash.hex()} is not relayed")
        if header.number != number:
            raise HeaderRejectedError(
                "bad-number", f"block {header.hash_hex} is number {header.number}, not {number}"
            )
        attestations = with_attestation(
            self.attestations(), Attestation(member, number, block_hash), members
        )
        items = {b"attest": encode_attestations(attestations)}
        old = self.tip()
        agreed = attested_tip(
            attestations, members, m, self.checkpoint_number, lambda h: self.store.get(b"p" + h)
        )
        if agreed is None or agreed[1] == old.hash:
            return items, old
        items.update(self._repoint(agreed, old.number))
        items[b"tip"] = agreed[1]
        tip = self.get(agreed[1])
        assert tip is not None
        return items, tip

    def _repoint(self, tip: tuple[int, bytes], old_top: int) -> dict[bytes, bytes]:
        """The best-chain index from ``tip`` down to where it already agrees (entries above the
        old tip are stale and never trusted)."""
        items: dict[bytes, bytes] = {}
        number, block = tip
        while True:
            key = b"n" + number.to_bytes(8, "big")
            if number <= old_top and self.store.get(key) == block:
                return items
            items[key] = block
            if number <= self.checkpoint_number:
                return items
            parent = self.store.get(b"p" + block)
            if parent is None:
                raise ConfigError(f"the Ethereum relay has no parent link for 0x{block.hex()}")
            number, block = number - 1, parent

    def submit_attestation(
        self, member: bytes, number: int, block_hash: bytes, members: frozenset[bytes], m: int
    ) -> EthHeader:
        """Validate and store an attestation; returns the (possibly moved) tip."""
        items, tip = self.validate_attestation(member, number, block_hash, members, m)
        self.store.write_batch(items)
        return tip

    def submit_headers(self, headers_rlp: Sequence[bytes], relayer: bytes) -> EthBatchResult:
        """Validate a batch (from a trusted relayer, or anyone in committee mode), then store
        it in one write batch."""
        old_tip = self.tip()
        items, tip = self.validate_headers(headers_rlp, relayer)
        self.store.write_batch(items)
        reorg = self.best_hash_at(old_tip.number) != old_tip.hash
        return EthBatchResult(len(headers_rlp), tip, reorg)

    def _reindex(
        self, header: EthHeader, pending: dict[bytes, EthHeader], best: dict[int, bytes], top: int
    ) -> None:
        """Point the best-chain index at ``header``'s branch down to the common ancestor."""
        current: EthHeader | None = header
        while current is not None:
            number = current.number
            known = best.get(number) or (
                self.store.get(b"n" + number.to_bytes(8, "big")) if number <= top else None
            )
            if known == current.hash:
                return
            best[number] = current.hash
            if current.hash == self.checkpoint_hash:
                return
            current = pending.get(current.parent_hash) or self.get(current.parent_hash)


@contextmanager
def _numbered(index: int) -> Iterator[None]:
    """A batch header's rejection names its place in the batch (``header <index>: ...``)."""
    try:
        yield
    except HeaderRejectedError as exc:
        raise HeaderRejectedError(exc.reason, f"header {index}: {exc}") from None


def check_eth_receipt(
    relay: EthRelay,
    block_hash: bytes,
    index: int,
    proof_nodes: Sequence[bytes],
    min_confirmations: int,
) -> tuple[EthHeader, EthReceipt]:
    """Verify a receipt proof against a relayed block in the best chain with enough depth."""
    header = relay.get(block_hash)
    if header is None:
        raise InclusionProofError("unknown-block", f"block 0x{block_hash.hex()} is not relayed")
    receipt = decode_receipt(verify_receipt_proof(header.receipts_root, index, proof_nodes))
    confirmations = relay.confirmations(block_hash)
    if confirmations == 0:
        raise InclusionProofError(
            "not-in-best-chain", f"block {header.hash_hex} left the best chain"
        )
    if confirmations < min_confirmations:
        raise InclusionProofError(
            "insufficient-confirmations",
            f"{confirmations} confirmations, the policy needs {min_confirmations}",
        )
    return header, receipt
