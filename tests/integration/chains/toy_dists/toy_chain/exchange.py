"""The toy chain's exchange verifier (ETM side) and its proof codec. Pure.

A proof is the fake chain's inclusion proof as JSON (height, header, the raw JSON transaction,
its Merkle branch and index, the paying output). It is checked against the header the relay
holds at that height on its best chain; the transaction's own fields give the lock's terms or
the payment's outputs (a payment's memo ``ETMD || owner20`` names the depositor).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

from etm_bridge.chain.address import encode_address
from etm_bridge.chain.codec import sha256d
from etm_bridge.chain.registry import TxContext
from etm_bridge.chain.state import StateView
from etm_bridge.errors import ExchangeError, InclusionProofError
from etm_bridge.exchange.obligations import VerifiedDeposit, VerifiedPayment
from etm_bridge.exchange.pool import Pool
from etm_bridge.exchange.proof_budget import value_at_risk
from etm_bridge.exchange.reasons import Reason
from etm_bridge.exchange.swap_rules import VerifiedForeignLock
from etm_bridge.merkle import root_from_branch_le
from etm_bridge.observations import InclusionProof
from etm_bridge.spv.relay_types import require_pool_network

from . import TICKER
from .relay import _tip, header_at, policy

DEPOSIT_TAG = b"ETMD"


def encode_proof(proof: InclusionProof) -> bytes:
    return json.dumps({
        "height": proof.block_height, "header": proof.header.hex(), "leaf": proof.leaf.hex(),
        "branch": [b.hex() for b in proof.branch], "index": proof.index, "item": proof.item,
    }).encode()  # fmt: skip


@dataclass(frozen=True)
class _Proven:
    tx: dict[str, Any]
    txid: bytes  # internal order
    item: int | None
    block_hash: bytes
    height: int
    confirmations: int


def _header_time(header: bytes) -> int:
    return int(struct.unpack_from("<I", header, 68)[0])


def _prove(view: StateView, data: bytes) -> _Proven:
    try:
        p = json.loads(data)
        height, header, leaf = (
            int(p["height"]),
            bytes.fromhex(p["header"]),
            bytes.fromhex(p["leaf"]),
        )
        branch = tuple(bytes.fromhex(b) for b in p["branch"])
        tx = json.loads(leaf)
    except (ValueError, KeyError, TypeError) as exc:
        raise InclusionProofError("malformed", f"toy proof: {exc}") from None
    if header_at(view, height) != header:
        raise InclusionProofError("not-in-best-chain", f"no such header at height {height}")
    if root_from_branch_le(sha256d(leaf), branch, int(p["index"])) != header[36:68]:
        raise InclusionProofError("merkle-root-mismatch", "the branch misses the header's root")
    tip = _tip(view) or 0
    item = None if p.get("item") is None else int(p["item"])
    return _Proven(tx, sha256d(leaf), item, sha256d(header), height, tip - height + 1)


class ToyVerifier:
    """The :class:`~etm_bridge.exchange.txtypes.ForeignVerifier` of the toy chain."""

    def verify_lock(
        self, view: StateView, pool: Pool, proof: bytes, ctx: TxContext
    ) -> VerifiedForeignLock:
        proven = _prove(view, proof)
        tx = proven.tx
        if tx.get("type") != "lock" or tx.get("asset_id") is not None:
            raise ExchangeError(Reason.BAD_PARAMETER, "the proven toy tx is not a native lock")
        amount = int(tx["amount"])
        at_risk = value_at_risk(view, pool.params.asset, proven.block_hash, amount)
        tip = _tip(view) or 0
        tip_header = header_at(view, tip)
        assert tip_header is not None
        return VerifiedForeignLock(
            pool.params.asset, proven.txid, amount, bytes.fromhex(tx["hashlock"]),
            bytes.fromhex(tx["claim_key"]), bytes.fromhex(tx["refund_key"]),
            int(tx["timelock_height"]), proven.confirmations,
            policy().required_depth(at_risk, pool.params.min_confirmations), proven.block_hash,
            proven.height, _header_time(header_at(view, proven.height) or b""), tip,
            _header_time(tip_header), 600, policy().max_lag_s,
        )  # fmt: skip

    def _payment(self, view: StateView, pool: Pool, proof: bytes) -> tuple[_Proven, list[Any]]:
        proven = _prove(view, proof)
        outputs = proven.tx.get("outputs") or []
        if proven.tx.get("type") != "pay" or proven.item is None:
            raise ExchangeError(Reason.BAD_PARAMETER, "the proven toy tx is not a payment")
        if not 0 <= proven.item < len(outputs):
            raise ExchangeError(Reason.BAD_PARAMETER, f"no output {proven.item}")
        need = policy().required_depth(int(outputs[proven.item][1]), pool.params.min_confirmations)
        if proven.confirmations < need:
            raise InclusionProofError("insufficient-confirmations", f"{need} are required")
        return proven, outputs[proven.item]

    def verify_deposit(
        self, view: StateView, pool: Pool, proof: bytes, ctx: TxContext
    ) -> VerifiedDeposit:
        proven, (to, amount, memo) = self._payment(view, pool, proof)
        memo = bytes.fromhex(memo)
        if bytes.fromhex(to) != pool.params.claim_key:
            raise ExchangeError(Reason.WRONG_DESTINATION, "the output does not pay the toy pool")
        if len(memo) != 24 or not memo.startswith(DEPOSIT_TAG):
            raise ExchangeError(Reason.BAD_PARAMETER, "the output's memo is not ETMD || owner")
        return VerifiedDeposit(
            proven.txid + bytes([proven.item or 0]), pool.params.asset, int(amount),
            encode_address(memo[4:]), proven.block_hash,
        )  # fmt: skip

    def verify_payment(
        self, view: StateView, pool: Pool, proof: bytes, ctx: TxContext
    ) -> VerifiedPayment:
        raise ExchangeError(Reason.BAD_PARAMETER, "the toy chain proves no obligation payments")

    def confirmations(self, view: StateView, pool: Pool, block_hash: bytes) -> int:
        tip = _tip(view) or 0
        for height in range(tip, -1, -1):
            header = header_at(view, height)
            if header is not None and sha256d(header) == block_hash:
                return tip - height + 1
        return 0

    def check_pool_network(self, view: StateView, asset: str, ctx: TxContext) -> None:
        require_pool_network(view, TICKER, ctx)
