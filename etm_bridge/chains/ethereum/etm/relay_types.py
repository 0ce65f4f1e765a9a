"""Ethereum's relay as ETM transaction types 111, 112 and 113 (its block is 110).

* 111 ``eth_relay_headers``: payload = RLP list of header RLPs; from a trusted relayer only in
  the unsafe legacy mode, from anyone in committee mode, where they are stored but move nothing
  (see :mod:`..spv.header_relay` for why).
* 112 ``eth_receipt_proof``: payload = RLP ``[block_hash, index, [proof nodes]]``; records the
  receipt's status and logs in ``spv_eth_receipts`` under ``block_hash || index u32``.
* 113 ``eth_attest_headers`` (committee mode only): payload = RLP ``[number, hash32]``, from a
  member of the newest custody committee or its registered agent; the member's latest
  attestation, which may move the attested tip (:mod:`..spv.attestation`). Reasons:
  ``spv_not_committee_mode`` (a legacy relay), ``custody_inactive`` (no committee),
  ``not_committee_member``, ``spv_unknown_block``, ``spv_bad_number``.

A record is evidence at the time it was made: consumers must call :func:`proven_eth_receipt`,
which re-checks that the block is *still* in the best chain with enough confirmations. The relay
is initialised from the genesis only (:mod:`.genesis`). Rejections are
:class:`~etm_bridge.errors.TxRejectedError` with reason ``spv_<rule>``. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import rlp

from etm_bridge.chain.registry import TxContext, TxType
from etm_bridge.chain.state import State, StateView, TableStore
from etm_bridge.chain.tx import Tx
from etm_bridge.chains.ethereum.etm.genesis import HEADERS, TICKER, default_policy
from etm_bridge.chains.ethereum.profile import (
    ATTEST_HEADERS,
    RECEIPT_PROOF,
    RECEIPTS_TABLE,
    RELAY_HEADERS,
    TYPES,
)
from etm_bridge.chains.ethereum.spv import rlp_bounded
from etm_bridge.chains.ethereum.spv.header_relay import COMMITTEE, EthRelay, check_eth_receipt
from etm_bridge.chains.ethereum.spv.headers import ETH_NETWORKS
from etm_bridge.errors import TxRejectedError, ValidationError
from etm_bridge.spv.kvstore import KeyValueStore
from etm_bridge.spv.relay_policy import RelayPolicy
from etm_bridge.spv.relay_state import relay_network as state_relay_network
from etm_bridge.spv.relay_state import relay_policy
from etm_bridge.spv.relay_types import CONFIG, relay_config, spv_call
from etm_bridge.spv.state_stores import ReadOnlyTableStore

RECEIPTS = RECEIPTS_TABLE
ETH_RELAY_HEADERS, ETH_RECEIPT_PROOF, ETH_ATTEST_HEADERS = (
    RELAY_HEADERS,
    RECEIPT_PROOF,
    ATTEST_HEADERS,
)
ETH_HEADERS, ETH_RECEIPTS = HEADERS, RECEIPTS
MAX_ETH_HEADERS_PER_TX = 256
#: A receipts-trie proof is one node per nibble of ``rlp(index)`` at most (under 10); the cap
#: only keeps a hostile payload from holding a megabyte of one-byte "nodes".
MAX_RECEIPT_PROOF_NODES = 64


def relay_and_depth(view: StateView, store: KeyValueStore | None = None) -> tuple[EthRelay, int]:
    """The chain's Ethereum relay over ``view`` (or ``store``) and its confirmation floor."""
    cfg = relay_config(view, TICKER)
    relay = EthRelay(store or ReadOnlyTableStore(view, HEADERS), ETH_NETWORKS[cfg["chain"]])
    return relay, int(cfg["min_confirmations"])


def eth_relay_of(view: StateView) -> EthRelay:
    """The chain's Ethereum relay, read-only over ``view``."""
    return relay_and_depth(view)[0]


def eth_policy_of(view: StateView) -> RelayPolicy:
    """The Ethereum relay's :class:`RelayPolicy`."""
    return relay_policy(view, TICKER, default_policy, field="chain")


def relay_network(view: StateView) -> str | None:
    """The Ethereum relay's chain, None if the chain has none."""
    return state_relay_network(view, TICKER, field="chain")


def eth_config(view: StateView) -> dict[str, Any]:
    """The chain's Ethereum SPV config (chain, confirmations, HTLC contract, pool vaults)."""
    return relay_config(view, TICKER)


def eth_htlc_contract(view: StateView) -> bytes:
    """The configured EtherSwapHTLC address (20 bytes)."""
    contract = bytes.fromhex(eth_config(view).get("htlc_contract", ""))
    if len(contract) != 20:
        raise TxRejectedError("spv_relay_not_initialised", "no Ethereum HTLC contract configured")
    return contract


def status(view: StateView) -> dict[str, Any] | None:
    """``/api/spv/eth``: chain, checkpoint, tip, policy, trusted relayers, pool vaults (None: no
    relay)."""
    if view.get_json(CONFIG, TICKER.encode()) is None:
        return None
    eth, confirmations = relay_and_depth(view)
    tip = eth.tip()
    return {
        "chain": eth.params.name,
        "checkpoint_number": eth.checkpoint_number,
        "tip": {"number": tip.number, "hash": tip.hash_hex, "timestamp": tip.timestamp},
        "min_confirmations": confirmations,
        "policy": eth_policy_of(view).to_json(),
        "trusted_relayers": sorted(k.hex() for k in eth.relayers),
        **_attestation_status(eth),
        # operator -> PoolVault (0x hex), so `lp deposit eth` finds the vault with no flag
        "pool_vaults": {
            f"0x{op}": f"0x{vault}"
            for op, vault in (eth_config(view).get("pool_vaults") or {}).items()
        },
    }


def _attestation_status(eth: EthRelay) -> dict[str, Any]:
    """Committee mode: the mode, the highest stored header and each member's latest
    attestation (nothing for a legacy relay, whose JSON is pinned)."""
    if eth.mode != COMMITTEE:
        return {}
    number, block_hash = eth.relayed_tip()
    return {
        "mode": eth.mode,
        "relayed_tip": {"number": number, "hash": "0x" + block_hash.hex()},
        "attestations": {
            a.member.hex(): {"number": a.number, "hash": "0x" + a.hash.hex()}
            for a in eth.attestations()
        },
    }


def best_hash(view: StateView, number: int) -> str | None:
    """The relay's best-chain block hash at ``number`` as ``0x`` hex (None: none there)."""
    block_hash = eth_relay_of(view).best_hash_at(number)
    return None if block_hash is None else "0x" + block_hash.hex()


def _rlp_items(payload: bytes, what: str, max_items: int) -> list[Any]:
    """The top-level RLP list of a payload, decoded in linear time with depth/item caps."""
    try:
        items = rlp_bounded.decode(payload, max_depth=2, max_items=max_items)
    except ValidationError as exc:
        raise ValidationError(f"{what} payload: {exc}") from None
    if not isinstance(items, list):
        raise ValidationError(f"{what} payload must be an RLP list")
    return items


def decode_eth_headers(payload: bytes) -> list[bytes]:
    items = _rlp_items(payload, "eth headers", 1 + MAX_ETH_HEADERS_PER_TX)
    if not 0 < len(items) <= MAX_ETH_HEADERS_PER_TX or not all(isinstance(i, bytes) for i in items):
        raise ValidationError(
            f"payload must be an RLP list of 1..{MAX_ETH_HEADERS_PER_TX} header RLPs"
        )
    return items


def _check_headers(view: StateView, tx: Tx, headers: list[bytes], ctx: TxContext) -> None:
    relay, _ = relay_and_depth(view)
    spv_call(lambda: relay.validate_headers(headers, tx.sender_public_key))


def _apply_headers(state: State, tx: Tx, headers: list[bytes], ctx: TxContext) -> None:
    relay, _ = relay_and_depth(state, TableStore(state, HEADERS))
    spv_call(lambda: relay.submit_headers(headers, tx.sender_public_key))


@dataclass(frozen=True)
class EthAttestation:
    """Tx 113's payload: the attested block."""

    number: int
    block_hash: bytes

    def encode(self) -> bytes:
        return rlp.encode([self.number, self.block_hash])


def decode_eth_attestation(payload: bytes) -> EthAttestation:
    items = _rlp_items(payload, "eth attestation", 3)
    if len(items) != 2 or not all(isinstance(i, bytes) for i in items):
        raise ValidationError("payload must be RLP [number u64, block_hash32]")
    number, block_hash = items
    if len(block_hash) != 32 or len(number) > 8 or number[:1] == b"\x00":
        raise ValidationError("payload must be RLP [number u64 (no leading zero), block_hash32]")
    return EthAttestation(int.from_bytes(number, "big"), block_hash)


def attesting_member(view: StateView, sender: bytes) -> tuple[bytes, frozenset[bytes], int]:
    """(the member ``sender`` attests for, the newest committee's unslashed members, its m);
    refused ``custody_inactive`` without a committee, ``not_committee_member`` otherwise (a
    slashed member's attestations no longer count; m stays the committee's). An agent speaks
    for its member only while it is the member's *current* agent: ``custody_agents`` is
    permanent, so an agent a member replaced (say, because its key leaked) still names the
    member there and must not keep attesting for it."""
    from etm_bridge.custody import plans, records

    epoch = plans.current_epoch(view)
    raw = None if epoch is None else view.get_json(records.EPOCHS, records.epoch_key(epoch))
    if raw is None:
        raise TxRejectedError("custody_inactive", "this chain has no custody committee")
    committee = records.decode(records.Committee, raw)
    slashed = {d for d in committee.members if getattr(plans.get_member(view, d), "slashed", 0)}
    members = frozenset(committee.members) - slashed
    member = sender if sender in members else plans.agent_owner(view, sender)
    if member is not None and member != sender:
        record = plans.get_member(view, member)
        member = member if record is not None and record.agent == sender else None
    if member is None or member not in members:
        raise TxRejectedError(
            records.Reason.NOT_COMMITTEE_MEMBER,
            f"{sender.hex()} is neither a member of committee {committee.epoch} nor its agent",
        )
    return member, members, committee.m


def _attest(view: StateView, tx: Tx, att: EthAttestation, store: KeyValueStore | None) -> Any:
    relay, _ = relay_and_depth(view, store)
    if relay.mode != COMMITTEE:
        raise TxRejectedError(
            "spv_not_committee_mode", "this chain's Ethereum relay takes no attestations"
        )
    member, members, m = attesting_member(view, tx.sender_public_key)
    return member, members, m, relay


def _check_attest(view: StateView, tx: Tx, att: EthAttestation, ctx: TxContext) -> None:
    member, members, m, relay = _attest(view, tx, att, None)
    spv_call(lambda: relay.validate_attestation(member, att.number, att.block_hash, members, m))


def _apply_attest(state: State, tx: Tx, att: EthAttestation, ctx: TxContext) -> None:
    member, members, m, relay = _attest(state, tx, att, TableStore(state, HEADERS))
    spv_call(lambda: relay.submit_attestation(member, att.number, att.block_hash, members, m))


@dataclass(frozen=True)
class EthReceiptProof:
    block_hash: bytes
    index: int
    nodes: tuple[bytes, ...]

    def encode(self) -> bytes:
        return rlp.encode([self.block_hash, self.index, list(self.nodes)])


def decode_eth_receipt_proof(payload: bytes) -> EthReceiptProof:
    items = _rlp_items(payload, "eth receipt proof", 4 + MAX_RECEIPT_PROOF_NODES)
    if len(items) != 3 or not isinstance(items[2], list) or len(items[0]) != 32:
        raise ValidationError("payload must be RLP [block_hash32, index, [nodes]]")
    if not isinstance(items[0], bytes) or not isinstance(items[1], bytes):
        raise ValidationError("payload must be RLP [block_hash32, index, [nodes]]")
    if not all(isinstance(n, bytes) for n in items[2]) or len(items[1]) > 4:
        raise ValidationError("proof nodes must be byte strings and the index a u32")
    return EthReceiptProof(items[0], int.from_bytes(items[1], "big"), tuple(items[2]))


def _verified_receipt(view: StateView, proof: EthReceiptProof) -> Any:
    relay, confirmations = relay_and_depth(view)
    return spv_call(
        lambda: check_eth_receipt(relay, proof.block_hash, proof.index, proof.nodes, confirmations)
    )


def _check_proof(view: StateView, tx: Tx, proof: EthReceiptProof, ctx: TxContext) -> None:
    _verified_receipt(view, proof)


def _apply_proof(state: State, tx: Tx, proof: EthReceiptProof, ctx: TxContext) -> None:
    header, receipt = _verified_receipt(state, proof)
    logs = [
        [log.address.hex(), [t.hex() for t in log.topics], log.data.hex()] for log in receipt.logs
    ]
    record = {"number": header.number, "status": receipt.status, "logs": logs}
    state.put_json(RECEIPTS, proof.block_hash + proof.index.to_bytes(4, "big"), record)


def proven_eth_receipt(view: StateView, block_hash: bytes, index: int) -> dict[str, Any]:
    """The recorded receipt, re-checked against the relay's current best chain."""
    record = view.get_json(RECEIPTS, block_hash + index.to_bytes(4, "big"))
    if record is None:
        raise TxRejectedError("spv_receipt_not_proven", f"no proof of receipt {index}")
    relay, confirmations = relay_and_depth(view)
    have = relay.confirmations(block_hash)
    if have < confirmations:
        reason = "spv_not_in_best_chain" if have == 0 else "spv_insufficient_confirmations"
        raise TxRejectedError(reason, f"block 0x{block_hash.hex()} has {have} confirmations")
    return dict(record, confirmations=have)


def _count(items: Sequence[Any]) -> dict[str, Any]:
    return {"headers": len(items)}


def tx_types(dev: bool) -> list[TxType[Any]]:
    """The relay's types (the same on development chains: this relay starts at genesis only)."""
    return [
        TxType(ETH_RELAY_HEADERS, TYPES[ETH_RELAY_HEADERS], decode_eth_headers, _check_headers,
               _apply_headers, describe=_count),
        TxType(ETH_RECEIPT_PROOF, TYPES[ETH_RECEIPT_PROOF], decode_eth_receipt_proof,
               _check_proof, _apply_proof,
               describe=lambda p: {"block_hash": "0x" + p.block_hash.hex(), "index": p.index}),
        TxType(ATTEST_HEADERS, TYPES[ATTEST_HEADERS], decode_eth_attestation, _check_attest,
               _apply_attest,
               describe=lambda a: {"number": a.number, "hash": "0x" + a.block_hash.hex()}),
    ]  # fmt: skip
