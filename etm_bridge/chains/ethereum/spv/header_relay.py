"""An Ethereum header relay from a trusted checkpoint, and receipt proofs against it.

Trust model (stated plainly; docs/spv.md has the long form): post-merge headers have no proof
of work, and this relay does not verify beacon-chain sync-committee signatures, so anyone could
fabricate a header chain that passes every continuity rule. The relay therefore accepts
headers only from **trusted relayers** (a set of ETM public keys fixed with the checkpoint)
and checks continuity (:func:`.ethereum.check_child`) so a relayer cannot rewrite what it
already relayed without a visible fork. Fork choice: the highest block number, first seen on
ties (anvil's and geth's reorgs replace blocks by a longer branch).

Store layout: ``h<hash>`` -> header RLP; ``n<number u64 BE>`` -> best-chain hash; ``tip``;
``meta`` -> checkpoint number u64 | checkpoint hash | relayer keys (32 bytes each).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

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

    @classmethod
    def initialise(
        cls,
        store: KeyValueStore,
        params: EthChainParams,
        checkpoint_rlp: bytes,
        relayers: Sequence[bytes],
    ) -> EthRelay:
        """Store the trusted checkpoint header and the trusted relayer keys."""
        if store.get(b"meta") is not None:
            raise ConfigError(f"the {params.name} relay is already initialised")
        if not relayers or any(len(k) != 32 for k in relayers):
            raise ConfigError("an Ethereum relay needs at least one 32-byte relayer key")
        header = parse_header(checkpoint_rlp, params)
        meta = struct.pack(">Q", header.number) + header.hash + b"".join(sorted(relayers))
        store.write_batch(
            {
                b"meta": meta,
                b"h" + header.hash: header.rlp,
                b"n" + header.number.to_bytes(8, "big"): header.hash,
                b"tip": header.hash,
            }
        )
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
        if relayer not in self.relayers:
            raise HeaderRejectedError(
                "untrusted-relayer", "this key may not relay Ethereum headers"
            )
        tip = self.tip()
        pending: dict[bytes, EthHeader] = {}
        best: dict[int, bytes] = {}
        top = tip.number
        for index, raw in enumerate(headers_rlp):
            try:
                header = parse_header(raw, self.params)
                if header.hash in pending or self.store.get(b"h" + header.hash) is not None:
                    raise HeaderRejectedError("duplicate", f"block {header.hash_hex} is stored")
                parent = pending.get(header.parent_hash) or self.get(header.parent_hash)
                if parent is None:
                    raise HeaderRejectedError("bad-parent", "the parent is not in the relay")
                check_child(parent, header, self.params)
            except HeaderRejectedError as exc:
                raise HeaderRejectedError(exc.reason, f"header {index}: {exc}") from None
            pending[header.hash] = header
            if header.number > tip.number:
                self._reindex(header, pending, best, top)
                tip = header
        items = {b"h" + h.hash: h.rlp for h in pending.values()}
        items.update({b"n" + n.to_bytes(8, "big"): h for n, h in best.items()})
        items[b"tip"] = tip.hash
        return items, tip

    def submit_headers(self, headers_rlp: Sequence[bytes], relayer: bytes) -> EthBatchResult:
        """Validate a batch from a trusted relayer, then store it in one write batch."""
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
