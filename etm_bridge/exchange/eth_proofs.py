"""Ethereum proofs for the exchange: a receipt proof, then the HTLC contract's ``Locked`` event.

An :class:`EthProof` names a relayed block, a transaction index, the receipts-trie nodes and
which ``Locked`` event of that receipt (emitted by the configured ``EtherSwapHTLC`` contract)
is the lock. :class:`EthVerifier` checks it with
:func:`etm_bridge.spv.eth_relay.check_eth_receipt` (relayed block, best chain, receipt in the
header's receiptsRoot, transaction succeeded) and returns the event's values as a
:class:`~.swap_rules.VerifiedForeignLock` (``lock_id`` = the contract's swap hash, so one
contract lock is one swap; ``token`` must be the pool's: zero for ``eth``, the token address
for ``erc20:0x...``).

Deposits and obligation payments of ETH pools are not verifiable yet: a plain ether transfer
leaves no log in its receipt, so they need a pool contract emitting an event (future work);
those two methods reject with ``spv_unavailable``.

Encoding: ``block_hash (32) || index u32 BE || event_index u32 BE || node count u16 BE ||
(u32 BE length || node)*``. Pure.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from ..chain.registry import TxContext
from ..chain.state import StateView
from ..errors import ExchangeError, InclusionProofError, TxRejectedError, ValidationError
from ..observations import InclusionProof
from ..spv.eth_relay import EthRelay, check_eth_receipt
from ..spv.ethereum import LOCKED_EVENT, find_events
from .pool import Pool
from .reasons import Reason
from .swap_rules import VerifiedForeignLock

#: Nominal Ethereum block time (post-merge slots) for the remaining-time estimate.
BLOCK_TIME_S = 12
_HEAD = struct.Struct(">32sIIH")


@dataclass(frozen=True)
class EthProof:
    """A receipt proof and which ``Locked`` event in it is the lock."""

    block_hash: bytes
    index: int
    nodes: tuple[bytes, ...]
    event_index: int = 0

    def encode(self) -> bytes:
        head = _HEAD.pack(self.block_hash, self.index, self.event_index, len(self.nodes))
        return head + b"".join(struct.pack(">I", len(n)) + n for n in self.nodes)

    @classmethod
    def decode(cls, data: bytes) -> EthProof:
        try:
            block_hash, index, event_index, count = _HEAD.unpack_from(data, 0)
            pos, nodes = _HEAD.size, []
            for _ in range(count):
                (n,) = struct.unpack_from(">I", data, pos)
                nodes.append(data[pos + 4 : pos + 4 + n])
                pos += 4 + n
        except struct.error:
            raise ValidationError("ethereum exchange proof ends early") from None
        if pos != len(data) or any(not n for n in nodes):
            raise ValidationError("ethereum exchange proof has the wrong length")
        return cls(block_hash, index, tuple(nodes), event_index)

    @classmethod
    def from_adapter_proof(cls, proof: InclusionProof, event_index: int = 0) -> EthProof:
        """From the Ethereum adapter's ``ethereum-receipt`` :class:`InclusionProof`."""
        if proof.kind != "ethereum-receipt":
            raise ValidationError(f"expected an ethereum-receipt proof, got {proof.kind!r}")
        return cls(keccak(proof.header), proof.index, tuple(proof.branch), event_index)


def token_of(asset: str) -> bytes:
    """The ``token`` field a lock of ``asset`` carries: zero for ether, else the ERC-20."""
    if asset == "eth":
        return bytes(20)
    if asset.startswith("erc20:0x") and len(asset) == 48:
        return bytes.fromhex(asset[8:])
    raise ValidationError(f"{asset!r} is not an Ethereum pool asset (eth or erc20:0x<40 hex>)")


class EthVerifier:
    """The exchange's :class:`~.txtypes.ForeignVerifier` for Ethereum HTLC locks."""

    def __init__(
        self,
        relay_of: Callable[[StateView], EthRelay],
        htlc_contract: bytes,
        block_time_s: int = BLOCK_TIME_S,
    ):
        if len(htlc_contract) != 20:
            raise ValidationError("htlc_contract must be a 20-byte address")
        self.relay_of = relay_of
        self.htlc_contract = htlc_contract
        self.block_time_s = block_time_s

    def verify_lock(
        self, view: StateView, pool: Pool, proof: bytes, ctx: TxContext
    ) -> VerifiedForeignLock:
        p = EthProof.decode(proof)
        relay = self.relay_of(view)
        _, receipt = check_eth_receipt(relay, p.block_hash, p.index, p.nodes, 1)
        events = find_events(receipt, LOCKED_EVENT, self.htlc_contract)
        if not 0 <= p.event_index < len(events):
            raise InclusionProofError(
                "bad-event", f"the receipt has {len(events)} Locked events of the HTLC contract"
            )
        ev: dict[str, Any] = events[p.event_index]
        if ev["token"] != token_of(pool.params.asset):
            raise ExchangeError(
                Reason.WRONG_CHAIN,
                f"lock is of token 0x{ev['token'].hex()}, the pool is {pool.params.asset}",
            )
        return VerifiedForeignLock(
            pool.params.asset,
            ev["swapHash"],
            ev["amount"],
            ev["preimageHash"],
            ev["claimAddress"],
            ev["refundAddress"],
            ev["timelock"],
            relay.confirmations(p.block_hash),
            relay.tip().number,
            self.block_time_s,
        )

    def _unavailable(self, what: str) -> Any:
        raise TxRejectedError(
            "spv_unavailable",
            f"Ethereum {what} cannot be proven yet: a plain transfer leaves no receipt log",
        )

    def verify_deposit(self, view: StateView, pool: Pool, proof: bytes, ctx: TxContext) -> Any:
        return self._unavailable("deposits")

    def verify_payment(self, view: StateView, pool: Pool, proof: bytes, ctx: TxContext) -> Any:
        return self._unavailable("obligation payments")
