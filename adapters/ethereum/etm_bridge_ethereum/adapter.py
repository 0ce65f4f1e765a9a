"""EthereumAdapter: the ChainAdapter for Ethereum, driving the EtherSwapHTLC contract.

Keys are 20-byte addresses (``ETHEREUM_ADDRESS``); a lock's ``asset_id`` is None for
ether or the 20-byte address of an ERC-20 token. The lock id is the contract's swap hash (hex),
so a lock is found again from the chain alone: ``Locked`` / ``Claimed`` / ``Refunded`` logs
indexed by hashlock and swap hash, scanned from ``from_block``. The HTLC's ``claim`` and
``refund`` take ``msg.sender`` as the claim / refund address, so only that key can spend.

Locks are seen once mined: ``eth_getLogs`` covers mined blocks only (pending-block logs are not
reliable across nodes). ``lock`` waits for its receipt, so our own locks are mined when
returned; ``claim`` / ``refund`` wait too unless ``wait_for_receipts`` is false, so a revert
mined on chain is reported rather than lost.

Transactions are signed locally (EIP-1559), nonces come from one persistent
:class:`~.nonces.NonceManager` per account, and reverts surface as ContractRevertError naming
the contract's custom error (``SwapNotFound``, ``TimelockNotReached``, ...).

Capabilities: ``htlc_activity`` (the HTLC's logs), inclusion proofs (``ethereum-receipt``),
payments (one transaction to a 20-byte address with value and calldata, e.g. a PoolVault
deposit; its proof names the destination's log and carries the transactions-trie nodes),
watch-only ether balances.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from eth_abi import decode
from eth_account import Account
from eth_utils import to_checksum_address

from etm_bridge.adapter import (
    Capability,
    ChainAdapter,
    ChainInfo,
    FeeEstimate,
    HtlcLock,
    HtlcSpend,
    HtlcTerms,
    InclusionProof,
    LockState,
    Payment,
    PaymentStatus,
    SpendKind,
    Tip,
    check_header_range,
)
from etm_bridge.chains.ethereum import ETHEREUM_ADDRESS
from etm_bridge.chains.ethereum.spv import rlp as eth_rlp
from etm_bridge.errors import (
    ChainError,
    ConfigError,
    LockNotFoundError,
    ValidationError,
)
from etm_bridge.hashlock import (
    check_preimage,
    check_refund_allowed,
    find_preimage_in_bytes,
    require_hashlock,
)

from . import artifacts
from .config import EthereumConfig, check_chain_id
from .htlc import HtlcCodec, LockedEvent, SpentEvent, swap_hash
from .node import EthNode
from .nonces import NonceManager
from .proofs import build_inclusion_proof
from .revert import error_table
from .sender import TxSender
from .vault import transaction_proof


class EthereumAdapter(ChainAdapter):
    """Ethereum (anvil, testnets, mainnet) through the EtherSwapHTLC contract."""

    name = "ethereum"
    #: from_config's options (etm_bridge.config checks [chains.<name>] tables against them).
    CONFIG_KEYS: ClassVar[Mapping[str, type] | None] = {
        "rpc_url": str, "private_key": str, "htlc_address": str, "data_dir": Path,
        "from_block": int, "network": str, "confirmations": int, "block_time_s": int,
        "receipt_timeout_s": float, "wait_for_receipts": bool, "fallback_max_fee_wei": int,
        "fallback_priority_fee_wei": int,
    }  # fmt: skip
    WALLET_KEY: ClassVar[str] = "eth"
    SECRET_FIELD: ClassVar[str] = "private_key"
    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.HTLC_ACTIVITY,
            Capability.INCLUSION_PROOFS,
            Capability.PAYMENTS,
            Capability.WATCH_ONLY_BALANCE,
        }
    )

    def __init__(self, config: EthereumConfig) -> None:
        self.config = config
        self.codec = HtlcCodec()
        self.node = EthNode(config.rpc_url, error_table(self.codec.abis))
        self.chain_id = self.node.chain_id()
        config.check_chain_id(self.chain_id)
        self.account = Account.from_key(config.private_key)
        if config.htlc_address:
            self._check_htlc_code()
        nonces = NonceManager(
            config.data_dir,
            self.chain_id,
            self.account.address,
            pending_count=lambda: self.node.nonce(self.account.address, "pending"),
            tx_known=lambda tx_hash: self.node.transaction(tx_hash) is not None,
        )
        self.sender = TxSender(
            self.node, self.account, nonces, self.chain_id, config.receipt_timeout_s,
            config.fee_policy,
        )  # fmt: skip

    @property
    def htlc_address(self) -> str:
        """The EtherSwapHTLC every HTLC operation uses; payments need none."""
        if not self.config.htlc_address:
            raise ConfigError(
                "ethereum adapter config lacks htlc_address, which HTLC locks, claims, refunds "
                "and scans need: set chains.ethereum.htlc_address (the stack's client.toml has it)"
            )
        return self.config.htlc_address

    def _check_htlc_code(self) -> None:
        """Refuse an address whose code is not our HTLC: a look-alike contract could emit
        Locked events for funds it never holds."""
        code = self.node.code(self.htlc_address)
        expected = artifacts.load(artifacts.HTLC).deployed_bytecode
        if code != eth_rlp.to_bytes(expected, "deployedBytecode"):
            what = "no contract" if not code else "a contract that is not this EtherSwapHTLC"
            raise ConfigError(
                f"htlc_address {self.htlc_address} holds {what} ({self.config.rpc_url})"
            )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> EthereumAdapter:
        return cls(EthereumConfig.from_mapping(config))

    def close(self) -> None:
        self.node.close()

    # --- identity and headers ------------------------------------------------------------------

    def info(self) -> ChainInfo:
        return ChainInfo(
            chain=self.name,
            network=self.config.network_name(self.chain_id),
            asset="ETH",
            base_unit="wei",
            decimals=18,
            block_time_s=self.config.block_time_s,
            default_confirmations=self.config.default_confirmations(self.chain_id),
            key_kind=ETHEREUM_ADDRESS,
        )

    def tip(self) -> Tip:
        block = self.node.block("latest")
        if block is None:
            raise ChainError(f"node at {self.config.rpc_url} returned no latest block")
        return Tip(eth_rlp.to_int(block["number"], "number"), block["hash"][2:].lower())

    def headers(self, start_height: int, count: int) -> list[bytes]:
        check_header_range(start_height, count)
        end = min(start_height + count, self.node.block_number() + 1)
        headers = []
        for height in range(start_height, end):
            block = self.node.block(height)
            if block is None:
                break
            headers.append(eth_rlp.encode_checked_header(block))
        return headers

    # --- keys and funds ------------------------------------------------------------------------

    def our_key(self) -> bytes:
        return bytes.fromhex(self.account.address[2:])

    def balance(self, asset_id: bytes | None = None) -> int:
        if asset_id is None:
            return self.node.balance(self.account.address)
        token = _checksum(asset_id, "asset_id")
        result = self.node.call(
            {"to": token, "data": "0x" + self.codec.balance_of(self.our_key()).hex()}, "balanceOf"
        )
        return int(decode(["uint256"], result)[0])

    def fee_estimate(self) -> FeeEstimate:
        fees = self.sender.fees()
        return FeeEstimate(fees.max_fee_per_gas, "wei/gas", fees.source)

    # --- locks ---------------------------------------------------------------------------------

    def lock(self, terms: HtlcTerms) -> HtlcLock:
        terms.check_key_kind(ETHEREUM_ADDRESS)
        if terms.refund_key != self.our_key():
            raise ValidationError(
                f"refund_key {terms.refund_key.hex()} is not our address {self.account.address}: "
                "the contract makes the sender the refund address"
            )
        key = swap_hash(terms)
        if terms.asset_id is not None:
            self._approve(terms.asset_id, terms.amount)
        data, value = self.codec.lock(terms)
        receipt = self.sender.transact(self.htlc_address, data, value, "lock")
        for log in receipt["logs"]:
            if _is_our_log(log, self.htlc_address, self.codec.locked_topic):
                event = self.codec.decode_locked(log)
                if event.swap_hash == key:
                    return self._lock_from_event(event, LockState.OPEN)
        raise ChainError(f"lock tx {receipt['transactionHash']} emitted no Locked event for us")

    def scan_start_height(self) -> int:
        """``from_block``: the HTLC's events before it are not read, their locks not found."""
        return self.config.from_block

    def find_locks(self, hashlock: bytes) -> list[HtlcLock]:
        topics = [self.codec.locked_topic, "0x" + require_hashlock(hashlock).hex()]
        events = [self.codec.decode_locked(log) for log in self._logs(topics)]
        events.sort(key=lambda e: (e.block_number, e.log_index))
        return [self._lock_from_event(e) for e in events]

    def get_lock(self, lock_id: str) -> HtlcLock:
        return self._lock_from_event(self._locked_event(lock_id))

    def confirmations(self, lock_id: str) -> int:
        return self.get_lock(lock_id).confirmations_at(self.node.block_number())

    def inclusion_proof(self, lock_id: str) -> InclusionProof:
        return build_inclusion_proof(self.node, self._locked_event(lock_id).tx_hash)

    # --- payments (the PAYMENTS capability) ----------------------------------------------------

    def pay(self, payments: Sequence[Payment]) -> str:
        """One transaction to ``payments[0].destination`` (a 20-byte address) with its amount
        (wei) and data; waits for its receipt (a revert is reported with the contract's error);
        the ``0x`` transaction hash."""
        if len(payments) != 1:
            raise ValidationError(f"an Ethereum payment is one transaction, got {len(payments)}")
        (payment,) = payments
        to = _checksum(payment.destination, "payment destination")
        receipt = self.sender.transact(to, payment.data, payment.amount, "payment")
        return str(receipt["transactionHash"])

    def payment_status(self, txid: str, *, since_height: int = 0) -> PaymentStatus:
        receipt = self.node.receipt(_hex0x(txid))
        if receipt is None:
            if self.node.transaction(_hex0x(txid)) is None:
                raise LockNotFoundError(f"the Ethereum node does not know transaction {txid}")
            return PaymentStatus(None, 0)
        height = eth_rlp.to_int(receipt["blockNumber"], "receipt blockNumber")
        return PaymentStatus(height, self.node.block_number() - height + 1)

    def payment_proof(self, txid: str, payment: Payment) -> InclusionProof:
        """The receipt proof of mined ``txid``; ``item`` = the position of the destination's
        one log in the receipt (None when it logs nothing), ``aux`` = the transaction's nodes
        in the header's transactions trie (``vault.transaction_proof``)."""
        tx_hash = _hex0x(txid)
        receipt = self.node.receipt(tx_hash)
        if receipt is None:
            raise LockNotFoundError(f"transaction {txid} is not mined (no receipt)")
        tx = self.node.transaction(tx_hash) or {}
        if str(tx.get("to", "")).lower() != "0x" + payment.destination.hex():
            raise ValidationError(f"transaction {txid} does not pay {payment.destination.hex()}")
        proof = build_inclusion_proof(self.node, tx_hash)
        logs = [
            i
            for i, log in enumerate(receipt["logs"])
            if str(log["address"]).lower() == "0x" + payment.destination.hex()
        ]
        if len(logs) > 1:
            raise ChainError(f"transaction {txid} has {len(logs)} logs of the destination")
        nodes = transaction_proof(self.node, proof.header, tx_hash, proof.index)
        return dataclasses.replace(proof, item=logs[0] if logs else None, aux=nodes)

    @classmethod
    def balance_of(cls, config: Mapping[str, Any], key: bytes) -> int:
        """The ether (wei) of address ``key`` at the latest block (``config["rpc_url"]``)."""
        node = EthNode(str(config["rpc_url"]), {}, timeout_s=5.0)
        try:
            if config.get("network"):
                check_chain_id(str(config["network"]), str(config["rpc_url"]), node.chain_id())
            return node.balance(_checksum(key, "address"))
        finally:
            node.close()

    # --- spends --------------------------------------------------------------------------------

    def claim(
        self, lock: HtlcLock, preimage: bytes, *, unsafe_skip_checks: bool = False
    ) -> HtlcSpend:
        if not unsafe_skip_checks:
            check_preimage(preimage, lock.terms.hashlock)
            if lock.terms.claim_key != self.our_key():
                raise ValidationError(
                    f"lock {lock.lock_id} is not claimable by {self.account.address}"
                )
        data = self.codec.claim(preimage, lock.terms)
        tx_hash, height = self._spend(data, "claim")
        return HtlcSpend(lock.lock_id, tx_hash[2:], SpendKind.CLAIM, preimage, height)

    def refund(self, lock: HtlcLock, *, unsafe_skip_checks: bool = False) -> HtlcSpend:
        if not unsafe_skip_checks:
            next_height = self.node.block_number() + 1
            check_refund_allowed(f"lock {lock.lock_id}", lock.terms.timelock_height, next_height)
        tx_hash, height = self._spend(self.codec.refund(lock.terms), "refund")
        return HtlcSpend(lock.lock_id, tx_hash[2:], SpendKind.REFUND, None, height)

    def find_spend(self, lock: HtlcLock) -> HtlcSpend | None:
        event = self._spent_event(bytes.fromhex(lock.lock_id), lock.block_height or 0)
        if event is None:
            return None
        if event.preimage is None:
            return HtlcSpend(
                lock.lock_id, event.tx_hash[2:], SpendKind.REFUND, None, event.block_number
            )
        preimage = self._extract_preimage(event, lock.terms.hashlock)
        return HtlcSpend(
            lock.lock_id, event.tx_hash[2:], SpendKind.CLAIM, preimage, event.block_number
        )

    # --- activity for the swap watcher ----------------------------------------------------------

    def htlc_activity(self, start_height: int, end_height: int) -> set[bytes]:
        """Hashlocks (``preimageHash``) of Locked / Claimed / Refunded events in mined blocks
        ``start..end`` (one ``eth_getLogs``; blocks before ``from_block`` hold none of ours)."""
        if start_height < 0:
            raise ValidationError(f"start_height must be >= 0, got {start_height}")
        address = self.htlc_address  # without one: the ConfigError naming it, whatever the range
        start = max(start_height, self.config.from_block)
        end = min(end_height, self.node.block_number())
        if end < start:
            return set()
        kinds = [self.codec.locked_topic, self.codec.claimed_topic, self.codec.refunded_topic]
        logs = self.node.logs(address, [kinds], start, end)
        return {_topic_hashlock(log) for log in logs}

    # --- internals -----------------------------------------------------------------------------

    def _logs(
        self, topics: Sequence[str | list[str] | None], from_block: int | None = None
    ) -> list[dict[str, Any]]:
        start = (
            self.config.from_block
            if from_block is None
            else max(from_block, self.config.from_block)
        )
        return self.node.logs(self.htlc_address, topics, start, self.node.block_number())

    def _locked_event(self, lock_id: str) -> LockedEvent:
        key = _swap_key(lock_id)
        logs = self._logs([self.codec.locked_topic, None, "0x" + key.hex()])
        if not logs:
            raise LockNotFoundError(f"no Locked event for lock id {lock_id} at {self.htlc_address}")
        return self.codec.decode_locked(logs[-1])

    def _spent_event(self, key: bytes, from_block: int) -> SpentEvent | None:
        kinds = [self.codec.claimed_topic, self.codec.refunded_topic]
        logs = self._logs([kinds, None, "0x" + key.hex()], from_block)
        return self.codec.decode_spent(logs[0]) if logs else None

    def _lock_from_event(self, event: LockedEvent, state: LockState | None = None) -> HtlcLock:
        if state is None:
            spent = self._spent_event(event.swap_hash, event.block_number)
            state = LockState.OPEN if spent is None else _state_of(spent)
        return HtlcLock(
            chain=self.name,
            lock_id=event.swap_hash.hex(),
            txid=event.tx_hash[2:].lower(),
            terms=event.terms,
            block_height=event.block_number,
            state=state,
        )

    def _extract_preimage(self, event: SpentEvent, hashlock: bytes) -> bytes:
        if event.preimage is not None and find_preimage_in_bytes(event.preimage, hashlock):
            return event.preimage
        tx = self.node.transaction(event.tx_hash) or {}
        found = find_preimage_in_bytes(
            eth_rlp.to_bytes(tx.get("input", "0x"), "tx input"), hashlock
        )
        if found is None:
            raise ChainError(f"claim {event.tx_hash} reveals no preimage of {hashlock.hex()}")
        return found

    def _spend(self, data: bytes, action: str) -> tuple[str, int | None]:
        if not self.config.wait_for_receipts:
            return self.sender.send(self.htlc_address, data, 0, action), None
        receipt = self.sender.transact(self.htlc_address, data, 0, action)
        return receipt["transactionHash"], eth_rlp.to_int(receipt["blockNumber"], "blockNumber")

    def _approve(self, token: bytes, amount: int) -> None:
        spender = bytes.fromhex(self.htlc_address[2:])
        call = {
            "to": _checksum(token, "asset_id"),
            "data": "0x" + self.codec.allowance(self.our_key(), spender).hex(),
        }
        if int(decode(["uint256"], self.node.call(call, "allowance"))[0]) >= amount:
            return
        self.sender.transact(call["to"], self.codec.approve(spender, amount), 0, "approve")


def _hex0x(txid: str) -> str:
    return txid if txid.startswith("0x") else "0x" + txid


def _checksum(raw: bytes, what: str) -> str:
    if len(raw) != 20:
        raise ValidationError(f"{what} must be a 20-byte address, got {len(raw)} bytes")
    return to_checksum_address(raw)


def _swap_key(lock_id: str) -> bytes:
    try:
        key = bytes.fromhex(lock_id)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise LockNotFoundError(f"lock id {lock_id!r} is not a 32-byte swap hash in hex")
    return key


def _is_our_log(log: Mapping[str, Any], address: str, topic: str) -> bool:
    topics = log.get("topics") or []
    return str(log.get("address", "")).lower() == address.lower() and topics[:1] == [topic]


def _topic_hashlock(log: Mapping[str, Any]) -> bytes:
    """The indexed ``preimageHash`` (first topic after the event's) of an HTLC event."""
    topics = log.get("topics") or []
    hashlock = eth_rlp.to_bytes(topics[1], "preimageHash topic") if len(topics) > 1 else b""
    if len(hashlock) != 32:
        raise ChainError(f"HTLC log in tx {log.get('transactionHash')} has no preimageHash topic")
    return hashlock


def _state_of(spent: SpentEvent) -> LockState:
    return LockState.CLAIMED if spent.preimage is not None else LockState.REFUNDED
