"""Ethereum proofs for the exchange: a receipt proof, then the HTLC contract's ``Locked`` event.

An :class:`EthProof` names a relayed block, a transaction index, the receipts-trie nodes and which
``Locked`` event of that receipt (emitted by the configured ``EtherSwapHTLC`` contract) is the lock.
:class:`EthVerifier` checks it with
:func:`etm_bridge.chains.ethereum.spv.header_relay.check_eth_receipt` (relayed block, best chain,
receipt in the header's receiptsRoot, transaction succeeded) and returns the event's values as a
:class:`~.swap_rules.VerifiedForeignLock` (``lock_id`` = the contract's swap hash, so one contract
lock is one swap; ``token`` must be the pool's: zero for ``eth``, the token address for
``erc20:0x...``).

Deposits and obligation payments go through the pool operator's ``PoolVault``
(``contracts/ethereum/PoolVault.sol``; a plain ether transfer leaves no receipt log). Their
:class:`EthProof` names the log by its **position in the receipt** (``event_index`` = log
index): the log must be emitted by the vault configured for the pool's claim key (``vaults``:
operator address -> vault address, see :func:`vaults_from_config`) and be a ``Deposited`` /
``Paid`` event of the pool's token, in a successful receipt at the pool's confirmation depth.
A deposit names its ETM owner (``bytes20 etmOwner``); a payment its obligation id (a uint256
in ``bytes32``) and destination ``to``, which must be the obligation's bound address.

A deposit/payment proof is an :class:`EthLogProof`: the receipt proof plus the proof of the
same index in the header's transactionsRoot, so the deposit/payment id is ``tx_hash ||
log_index u32 BE`` -- the same if a reorg re-includes the transaction in another block (an id
built from the block hash would let the same deposit be credited twice).

Encoding of :class:`EthProof`: ``block_hash (32) || index u32 BE || event_index u32 BE ||
node count u16 BE || (u32 BE length || node)*``; of :class:`EthLogProof`: ``u32 BE length ||
EthProof || node count u16 BE || (u32 BE length || tx trie node)*``. Pure.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from etm_bridge.chain.address import encode_address
from etm_bridge.chain.registry import TxContext
from etm_bridge.chain.state import StateView
from etm_bridge.chains.ethereum.etm.genesis import default_policy
from etm_bridge.chains.ethereum.etm.relay_types import (
    eth_config,
    eth_htlc_contract,
    eth_policy_of,
    eth_relay_of,
)
from etm_bridge.chains.ethereum.spv.header_relay import EthRelay, check_eth_receipt
from etm_bridge.chains.ethereum.spv.headers import (
    LOCKED_EVENT,
    EthHeader,
    EventAbi,
    decode_event,
    find_events,
    verify_receipt_proof,
)
from etm_bridge.chains.ethereum.spv.rlp import decode_header
from etm_bridge.errors import ExchangeError, InclusionProofError, TxRejectedError, ValidationError
from etm_bridge.exchange.obligations import VerifiedDeposit, VerifiedPayment
from etm_bridge.exchange.plans import get_obligation
from etm_bridge.exchange.pool import Pool
from etm_bridge.exchange.reasons import Reason
from etm_bridge.exchange.swap_rules import VerifiedForeignLock
from etm_bridge.observations import HtlcLock, InclusionProof
from etm_bridge.spv.relay_policy import RelayPolicy
from etm_bridge.spv.relay_types import require_pool_network

#: Nominal Ethereum block time (post-merge slots) for the remaining-time estimate.
BLOCK_TIME_S = 12
_HEAD = struct.Struct(">32sIIH")
_MAX_OBLIGATION_ID = 2**64 - 1
_TRANSACTIONS_ROOT_INDEX = 4  # transactionsRoot in the header's field list (Frontier onwards)

#: ``PoolVault`` events (contracts/ethereum/PoolVault.sol); a unit test pins them to the artifact.
DEPOSITED_EVENT = EventAbi(
    "Deposited",
    (
        ("etmOwner", "bytes20", True),
        ("from", "address", True),
        ("token", "address", False),
        ("amount", "uint256", False),
    ),
)
PAID_EVENT = EventAbi(
    "Paid",
    (
        ("obligationId", "bytes32", True),
        ("to", "address", True),
        ("token", "address", False),
        ("amount", "uint256", False),
    ),
)


def _encode_nodes(nodes: tuple[bytes, ...]) -> bytes:
    return struct.pack(">H", len(nodes)) + b"".join(struct.pack(">I", len(n)) + n for n in nodes)


def _decode_nodes(data: bytes, pos: int, what: str) -> tuple[tuple[bytes, ...], int]:
    """(nodes, position after them) of an ``_encode_nodes`` list starting at ``pos``."""
    try:
        (count,) = struct.unpack_from(">H", data, pos)
        pos, nodes = pos + 2, []
        for _ in range(count):
            (n,) = struct.unpack_from(">I", data, pos)
            nodes.append(data[pos + 4 : pos + 4 + n])
            pos += 4 + n
    except struct.error:
        raise ValidationError(f"{what} ends early") from None
    if pos > len(data) or any(not n for n in nodes):
        raise ValidationError(f"{what} has the wrong length")
    return tuple(nodes), pos


@dataclass(frozen=True)
class EthProof:
    """A receipt proof and which event of it counts.

    ``event_index``: for a lock, the n-th ``Locked`` event of the HTLC in the receipt; for a
    deposit or payment, the log's position among all the receipt's logs (so a log of another
    contract is named, and rejected, rather than skipped).
    """

    block_hash: bytes
    index: int
    nodes: tuple[bytes, ...]
    event_index: int = 0

    def encode(self) -> bytes:
        head = _HEAD.pack(self.block_hash, self.index, self.event_index, len(self.nodes))
        return head[:-2] + _encode_nodes(self.nodes)

    @classmethod
    def decode(cls, data: bytes) -> EthProof:
        try:
            block_hash, index, event_index, _ = _HEAD.unpack_from(data, 0)
        except struct.error:
            raise ValidationError("ethereum exchange proof ends early") from None
        nodes, pos = _decode_nodes(data, _HEAD.size - 2, "ethereum exchange proof")
        if pos != len(data):
            raise ValidationError("ethereum exchange proof has the wrong length")
        return cls(block_hash, index, nodes, event_index)

    @classmethod
    def from_adapter_proof(cls, proof: InclusionProof, event_index: int = 0) -> EthProof:
        """From the Ethereum adapter's ``ethereum-receipt`` :class:`InclusionProof`."""
        if proof.kind != "ethereum-receipt":
            raise ValidationError(f"expected an ethereum-receipt proof, got {proof.kind!r}")
        return cls(keccak(proof.header), proof.index, tuple(proof.branch), event_index)


@dataclass(frozen=True)
class EthLogProof:
    """A vault log's receipt proof plus its transaction's proof in the transactions trie."""

    receipt: EthProof
    tx_nodes: tuple[bytes, ...]

    def encode(self) -> bytes:
        inner = self.receipt.encode()
        return struct.pack(">I", len(inner)) + inner + _encode_nodes(self.tx_nodes)

    @classmethod
    def decode(cls, data: bytes) -> EthLogProof:
        if len(data) < 4:
            raise ValidationError("ethereum log proof ends early")
        (n,) = struct.unpack_from(">I", data, 0)
        receipt = EthProof.decode(data[4 : 4 + n])
        tx_nodes, pos = _decode_nodes(data, 4 + n, "ethereum log proof")
        if pos != len(data):
            raise ValidationError("ethereum log proof has the wrong length")
        return cls(receipt, tx_nodes)


def token_of(asset: str) -> bytes:
    """The ``token`` field a lock of ``asset`` carries: zero for ether, else the ERC-20."""
    if asset == "eth":
        return bytes(20)
    if asset.startswith("erc20:0x") and len(asset) == 48:
        return bytes.fromhex(asset[8:])
    raise ValidationError(f"{asset!r} is not an Ethereum pool asset (eth or erc20:0x<40 hex>)")


def _address20(text: Any, what: str) -> bytes:
    try:
        raw = bytes.fromhex(str(text).removeprefix("0x"))
    except ValueError:
        raise ValidationError(f"{what} {text!r} is not hex") from None
    if len(raw) != 20:
        raise ValidationError(f"{what} {text!r} is not a 20-byte address")
    return raw


def vaults_from_config(cfg: Mapping[str, Any]) -> dict[bytes, bytes]:
    """``pool_vaults`` of the chain's Ethereum SPV config (operator hex -> vault hex) as bytes."""
    raw = cfg.get("pool_vaults") or {}
    if not isinstance(raw, Mapping):
        raise ValidationError("pool_vaults must map operator addresses to vault addresses")
    return {
        _address20(op, "pool_vaults operator"): _address20(vault, "pool_vaults vault")
        for op, vault in raw.items()
    }


def _proven_tx_hash(header: EthHeader, index: int, nodes: tuple[bytes, ...]) -> bytes:
    """keccak256 of the transaction at ``index`` of the header's transactions trie (keyed like
    the receipts trie), i.e. its tx hash; ``bad-tx-proof`` if the nodes do not prove it."""
    root = decode_header(header.rlp)[_TRANSACTIONS_ROOT_INDEX]
    try:
        return keccak(verify_receipt_proof(root, index, nodes))
    except InclusionProofError as exc:
        raise InclusionProofError("bad-tx-proof", f"transaction {index}: {exc}") from None


class EthVerifier:
    """The exchange's :class:`~.txtypes.ForeignVerifier` for Ethereum.

    ``vaults`` maps a pool operator's address (the pool's claim key) to its ``PoolVault``; a
    pool whose operator has none cannot prove deposits or payments (``spv_unavailable``).
    ``policy_of(view)`` reads the relay's :class:`RelayPolicy` (default: its chain's default):
    every proof needs ``max(relay floor, pool min_confirmations, value-scaled depth)``.
    """

    def __init__(
        self,
        relay_of: Callable[[StateView], EthRelay],
        htlc_contract: bytes,
        block_time_s: int = BLOCK_TIME_S,
        vaults: Mapping[bytes, bytes] | None = None,
        policy_of: Callable[[StateView], RelayPolicy] | None = None,
        pool_network: Callable[[StateView, str, TxContext], None] | None = None,
    ):
        if len(htlc_contract) != 20:
            raise ValidationError("htlc_contract must be a 20-byte address")
        vaults = dict(vaults or {})
        if any(len(k) != 20 or len(v) != 20 for k, v in vaults.items()):
            raise ValidationError("vaults must map 20-byte operator addresses to 20-byte vaults")
        self.relay_of = relay_of
        self.htlc_contract = htlc_contract
        self.block_time_s = block_time_s
        self.vaults = vaults
        self.policy_of = policy_of
        self.pool_network = pool_network

    def _policy(self, view: StateView, relay: EthRelay) -> RelayPolicy:
        return self.policy_of(view) if self.policy_of else default_policy(relay.params.name)

    def confirmations(self, view: StateView, pool: Pool, block_hash: bytes) -> int:
        return self.relay_of(view).confirmations(block_hash)

    def check_pool_network(self, view: StateView, asset: str, ctx: TxContext) -> None:
        if self.pool_network is not None:
            self.pool_network(view, "eth", ctx)

    def verify_lock(
        self, view: StateView, pool: Pool, proof: bytes, ctx: TxContext
    ) -> VerifiedForeignLock:
        p = EthProof.decode(proof)
        relay = self.relay_of(view)
        header, receipt = check_eth_receipt(relay, p.block_hash, p.index, p.nodes, 1)
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
        policy, tip = self._policy(view, relay), relay.tip()
        return VerifiedForeignLock(
            pool.params.asset,
            ev["swapHash"],
            ev["amount"],
            ev["preimageHash"],
            ev["claimAddress"],
            ev["refundAddress"],
            ev["timelock"],
            relay.confirmations(p.block_hash),
            policy.required_depth(ev["amount"], pool.params.min_confirmations),
            p.block_hash,
            header.number,
            header.timestamp,
            tip.number,
            tip.timestamp,
            self.block_time_s,
            policy.max_lag_s,
        )

    def _vault_event(
        self, view: StateView, pool: Pool, proof: bytes, abi: EventAbi
    ) -> tuple[bytes, dict[str, Any]]:
        """(deposit/payment id, decoded event) of the vault log a deposit/payment proof names."""
        vault = self.vaults.get(pool.params.claim_key)
        if vault is None:
            raise TxRejectedError(
                "spv_unavailable",
                f"no PoolVault is configured for the {pool.params.asset} pool's operator "
                f"0x{pool.params.claim_key.hex()} (spv config eth.pool_vaults)",
            )
        lp = EthLogProof.decode(proof)
        p = lp.receipt
        relay = self.relay_of(view)
        header, receipt = check_eth_receipt(relay, p.block_hash, p.index, p.nodes, 1)
        tx_hash = _proven_tx_hash(header, p.index, lp.tx_nodes)
        if receipt.status != 1:
            raise InclusionProofError("failed-transaction", "the receipt's transaction reverted")
        if not 0 <= p.event_index < len(receipt.logs):
            raise InclusionProofError(
                "bad-event", f"log {p.event_index} of a receipt with {len(receipt.logs)} logs"
            )
        log = receipt.logs[p.event_index]
        if log.address != vault:
            raise ExchangeError(
                Reason.WRONG_DESTINATION,
                f"log {p.event_index} was emitted by 0x{log.address.hex()}, not the "
                f"{pool.params.asset} pool's vault 0x{vault.hex()}",
            )
        event: dict[str, Any] = decode_event(log, abi)
        need = self._policy(view, relay).required_depth(
            event["amount"], pool.params.min_confirmations
        )
        have = relay.confirmations(p.block_hash)
        if have < need:
            raise InclusionProofError(
                "insufficient-confirmations",
                f"{have} confirmations, {need} are required (relay policy, pool value, "
                "value-scaled depth)",
            )
        return tx_hash + struct.pack(">I", p.event_index), event

    def verify_deposit(
        self, view: StateView, pool: Pool, proof: bytes, ctx: TxContext
    ) -> VerifiedDeposit:
        """A ``Deposited`` event of the pool operator's vault, for the ETM owner it names."""
        ident, ev = self._vault_event(view, pool, proof, DEPOSITED_EVENT)
        if ev["token"] != token_of(pool.params.asset):
            raise ExchangeError(
                Reason.DEPOSIT_WRONG_ASSET,
                f"deposit is of token 0x{ev['token'].hex()}, the pool is {pool.params.asset}",
            )
        owner = encode_address(ev["etmOwner"])
        return VerifiedDeposit(ident, pool.params.asset, ev["amount"], owner)

    def verify_payment(
        self, view: StateView, pool: Pool, proof: bytes, ctx: TxContext
    ) -> VerifiedPayment:
        """A ``Paid`` event of the vault paying an obligation's bound address."""
        ident, ev = self._vault_event(view, pool, proof, PAID_EVENT)
        oid = int.from_bytes(ev["obligationId"], "big")
        if oid > _MAX_OBLIGATION_ID:
            raise ExchangeError(Reason.UNKNOWN_OBLIGATION, f"no obligation {oid}")
        ob = get_obligation(view, oid)
        if ev["token"] != token_of(ob.asset):
            raise ExchangeError(
                Reason.PAYMENT_MISMATCH,
                f"payment is of token 0x{ev['token'].hex()}, obligation {oid} is {ob.asset}",
            )
        if ev["to"] != ob.destination:
            raise ExchangeError(
                Reason.WRONG_DESTINATION,
                f"payment goes to 0x{ev['to'].hex()}, obligation {oid} to 0x{ob.destination.hex()}",
            )
        return VerifiedPayment(ident, pool.params.asset, ev["amount"], ev["to"], (oid,))


#: Stands in for the HTLC address when none is configured: deposits and payments are
#: ``PoolVault`` events and never read it, and locks always use the configured one.
_NO_HTLC_CONTRACT = bytes(20)


class ConfiguredEthVerifier:
    """:class:`EthVerifier` with the HTLC address and the PoolVaults read from the chain's SPV
    config (written at genesis, :mod:`.genesis`), so nothing is fixed at import time. Only
    :meth:`verify_lock` needs an HTLC contract; a chain configured with PoolVaults alone proves
    deposits and payments. A chain without the relay rejects with ``spv_relay_not_initialised``.
    """

    def _verifier(self, view: StateView, *, need_htlc: bool = True) -> EthVerifier:
        config = eth_config(view)
        configured = bool(config.get("htlc_contract"))
        htlc = eth_htlc_contract(view) if need_htlc or configured else _NO_HTLC_CONTRACT
        return EthVerifier(
            eth_relay_of,
            htlc,
            vaults=vaults_from_config(config),
            policy_of=eth_policy_of,
            pool_network=require_pool_network,
        )

    def verify_lock(self, view: StateView, pool: Pool, proof: bytes, ctx: TxContext) -> Any:
        return self._verifier(view).verify_lock(view, pool, proof, ctx)

    def verify_deposit(self, view: StateView, pool: Pool, proof: bytes, ctx: TxContext) -> Any:
        return self._verifier(view, need_htlc=False).verify_deposit(view, pool, proof, ctx)

    def verify_payment(self, view: StateView, pool: Pool, proof: bytes, ctx: TxContext) -> Any:
        return self._verifier(view, need_htlc=False).verify_payment(view, pool, proof, ctx)

    def confirmations(self, view: StateView, pool: Pool, block_hash: bytes) -> int:
        return eth_relay_of(view).confirmations(block_hash)

    def check_pool_network(self, view: StateView, asset: str, ctx: TxContext) -> None:
        require_pool_network(view, "eth", ctx)


def lock_proof(lock: HtlcLock, proof: InclusionProof) -> bytes:
    """The ``xchg_swap_in`` proof bytes of a lock from the adapter's ``ethereum-receipt`` proof
    (the first ``Locked`` event of the receipt)."""
    return EthProof.from_adapter_proof(proof).encode()
