"""HandshakeAdapter: HTLCs on Handshake (HNS), signed with our own key, against an hsd node.

Reads through hsd's JSON-RPC with raw results only: getblockcount, getblockhash,
getblockheader <hash> false (236-byte headers), getblock <hash> false, getrawmempool,
getrawtransaction <txid> false (mempool transactions only, so the node needs no
``--index-tx``), gettxout, getmempoolentry, estimatesmartfee; sends through REST ``/broadcast``
plus a mempool check (:mod:`.node`: hsd's ``sendrawtransaction`` hides every rejection). The
node wallet is never used. Our coins and every etm-bridge lock are found by scanning blocks into
:mod:`.index` (a cache under ``data_dir``), so a restarted adapter finds its locks from the chain.

Config (``from_config``), the Bitcoin adapter's keys: ``rpc_url`` (hsd's HTTP port),
``rpc_user`` (any), ``rpc_password`` (hsd's ``--api-key``), ``secret_hex`` (our 32-byte private
key), ``data_dir``, ``network`` (``main``, ``testnet``, ``regtest`` or ``simnet``; default
regtest), ``birth_height``, ``fallback_fee_doo_vb`` / ``min_fee_doo_vb`` / ``max_fee_doo_vb``
(default 20 / 1 / 1000, :mod:`.fees`), ``confirmations``.

Lock ids are ``<txid>:<vout>:<hashlock hex>`` (txids as hsd shows them). A lock's refund key
is the key that signs its input 0 (the 40-byte marker has no room for it, see :mod:`.script`),
so :meth:`HandshakeAdapter.lock` refuses terms whose refund key is not ours.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from etm_bridge.adapter import (
    Capability,
    ChainAdapter,
    ChainInfo,
    FeeEstimate,
    HtlcLock,
    HtlcSpend,
    HtlcTerms,
    InclusionProof,
    KeyKind,
    LockState,
    Payment,
    PaymentStatus,
    SpendKind,
    Tip,
    check_header_range,
)
from etm_bridge.errors import ConfigError, LockNotFoundError, RPCError, ValidationError
from etm_bridge.hashlock import check_preimage, check_refund_allowed, require_hashlock
from etm_bridge.jsonrpc import NetworkCheckedRpc

from .activity import HashlockResolver, index_activity
from .codec import Address, Output, Tx, decode_tx, decode_tx_base
from .fees import FeeChoice, FeePolicy, doo_vb_from_estimate
from .index import ChainIndex, LockOutput, load_index, outpoint_key, save_index
from .mempool import MempoolCache
from .node import HsdClient
from .proofs import block_inclusion_proof, parse_block
from .script import HRP, HtlcScript, encode_address, is_refund_witness, preimage_from_witnesses
from .sighash import WalletKey, WatchOnlyKey
from .txbuild import build_claim_tx, build_lock_tx, build_payment_tx, build_refund_tx

FEE_TARGET_BLOCKS = 2
log = logging.getLogger(__name__)


def parse_lock_id(lock_id: str) -> tuple[str, int, bytes]:
    """``txid:vout:hashlock`` -> (txid, vout, hashlock); LockNotFoundError if malformed."""
    try:
        txid, vout, hashlock_hex = lock_id.split(":")
        hashlock = require_hashlock(bytes.fromhex(hashlock_hex))
        if len(bytes.fromhex(txid)) != 32 or int(vout) < 0:
            raise ValueError("txid")
        return txid, int(vout), hashlock
    except ValueError:
        raise LockNotFoundError(
            f"{lock_id!r} is not a Handshake lock id (<txid>:<vout>:<hashlock hex>)"
        ) from None


#: How far back ``inclusion_proof`` looks for the coin a lock's input 0 spends.
FUNDING_SEARCH_BLOCKS = 2016


class HandshakeAdapter(ChainAdapter):
    """Chain adapter for Handshake (any network; regtest in the tests)."""

    name = "handshake"
    #: Optional powers (issue 12): the scanner contract, locks that hide their hashlock, SPV
    #: inclusion proofs, plain payments (an LP deposit: a :class:`Payment` destination is an
    #: address as ``version byte || hash``, :attr:`Address.key`).
    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset({
        Capability.HTLC_ACTIVITY, Capability.WATCH_HASHLOCK, Capability.INCLUSION_PROOFS,
        Capability.PAYMENTS, Capability.WATCH_ONLY_BALANCE,
    })  # fmt: skip
    CONFIG_KEYS: ClassVar[Mapping[str, type] | None] = {
        "rpc_url": str, "rpc_user": str, "rpc_password": str, "secret_hex": str,
        "data_dir": Path, "network": str, "birth_height": int, "fallback_fee_doo_vb": int,
        "min_fee_doo_vb": int, "max_fee_doo_vb": int, "confirmations": int,
    }  # fmt: skip
    WALLET_KEY: ClassVar[str] = "hns"

    def __init__(
        self,
        node: HsdClient,
        key: WalletKey,
        data_dir: Path,
        *,
        network: str = "regtest",
        birth_height: int = 0,
        fees: FeePolicy | None = None,
        confirmations: int | None = None,
    ) -> None:
        if network not in HRP:
            raise ConfigError(f"unknown Handshake network {network!r}; known: {', '.join(HRP)}")
        # the node must be on ``network`` (hsd's getblockchaininfo names it as we do)
        node.rpc = NetworkCheckedRpc(
            node.rpc, chain="Handshake", network=network, accepted=frozenset({network})
        )
        self.node = node
        self.rpc = node.rpc
        self.key = key
        self.network = network
        self.fees = fees or FeePolicy()
        self.default_confirmations = confirmations or (1 if network == "regtest" else 6)
        self.index_path = Path(data_dir) / f"handshake-{network}-{key.address.hash.hex()}.json"
        self.index: ChainIndex = load_index(self.index_path, birth_height)
        self._mempool = MempoolCache()
        self._resolver = HashlockResolver()
        self._payment_heights: dict[str, int] = {}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> HandshakeAdapter:
        try:
            node = HsdClient(
                str(config["rpc_url"]), config.get("rpc_user"), config.get("rpc_password")
            )
            key = WalletKey(bytes.fromhex(str(config["secret_hex"])))
            data_dir = Path(str(config["data_dir"]))
            birth_height = int(config.get("birth_height", 0))
            fees = FeePolicy.from_config(config)
            confirmations = config.get("confirmations")
            confirmations = None if confirmations is None else int(confirmations)
        except KeyError as exc:
            raise ConfigError(f"handshake adapter config needs {exc.args[0]!r}") from None
        except ValueError as exc:
            raise ConfigError(f"handshake adapter config: {exc}") from None
        return cls(
            node, key, data_dir, network=str(config.get("network", "regtest")),
            birth_height=birth_height, fees=fees, confirmations=confirmations,
        )  # fmt: skip

    @classmethod
    def balance_of(cls, config: Mapping[str, Any], key: bytes) -> int:
        """Confirmed doo on ``key``'s pay-to-key address, scanned from hsd's blocks into an
        index under ``config["data_dir"]`` (no secret: the key cannot sign)."""
        try:
            node = HsdClient(
                str(config["rpc_url"]), config.get("rpc_user"), config.get("rpc_password")
            )
            data_dir = Path(str(config["data_dir"]))
        except KeyError as exc:
            raise ConfigError(f"handshake adapter config needs {exc.args[0]!r}") from None
        adapter = cls(
            node, WatchOnlyKey(key), data_dir, network=str(config.get("network", "regtest")),
            birth_height=int(config.get("birth_height", 0)),
        )  # fmt: skip
        try:
            return adapter.balance()
        finally:
            adapter.close()

    def close(self) -> None:
        self.node.close()

    # --- identity and headers -------------------------------------------------------------

    def info(self) -> ChainInfo:
        return ChainInfo(
            chain="handshake",
            network=self.network,
            asset="HNS",
            base_unit="doo",
            decimals=6,
            block_time_s=600,
            default_confirmations=self.default_confirmations,
            key_kind=KeyKind.SECP256K1_COMPRESSED,
        )

    def tip(self) -> Tip:
        height = self.node.height()
        return Tip(height, self._hash_at(height))

    def headers(self, start_height: int, count: int) -> list[bytes]:
        check_header_range(start_height, count)
        last = min(start_height + count, self.node.height() + 1)
        return [
            bytes.fromhex(self.rpc.call("getblockheader", self._hash_at(h), False))
            for h in range(start_height, last)
        ]

    def recent_block_time_s(self, blocks: int = 144) -> int | None:
        """Mean spacing of the last ``blocks`` blocks, or None on regtest (mined on demand)."""
        return None if self.network == "regtest" else self.mean_spacing_s(blocks)

    def mean_spacing_s(self, blocks: int) -> int | None:
        tip = self.node.height()
        span = min(blocks, tip - 1)
        if span < 1:
            return None
        first, last = (self._header_time(h) for h in (tip - span, tip))
        return max(1, (last - first) // span)

    def _header_time(self, height: int) -> int:
        raw = bytes.fromhex(self.rpc.call("getblockheader", self._hash_at(height), False))
        return int.from_bytes(raw[4:12], "little")  # time is a u64 at offset 4

    # --- our funds --------------------------------------------------------------------------

    def our_key(self) -> bytes:
        return self.key.pubkey

    def address(self) -> str:
        """Our pay-to-key (bech32) address, e.g. for the regtest faucet."""
        return encode_address(self.key.address, self.network)

    def balance(self, asset_id: bytes | None = None) -> int:
        if asset_id is not None:
            raise ConfigError("Handshake has no token assets here; asset_id must be None")
        return self._view_with_mempool().confirmed_balance()

    def fee_estimate(self) -> FeeEstimate:
        choice = self.fee_choice()
        if choice.bounded:
            log.warning(
                "hsd estimates %d doo/vB, outside %d..%d: paying %d doo/vB",
                choice.node_rate, self.fees.minimum, self.fees.maximum, choice.rate,
            )  # fmt: skip
        return FeeEstimate(choice.rate, "doo/vB", choice.source)

    def fee_choice(self) -> FeeChoice:
        try:
            rate = doo_vb_from_estimate(self.rpc.call("estimatesmartfee", FEE_TARGET_BLOCKS))
        except RPCError:
            rate = None
        return self.fees.choose(rate)

    def pay_outputs(self, outputs: Sequence[tuple[Address, int]]) -> str:
        """Pay ``(address, amount_doo)`` outputs, in order, from our coins; returns the txid."""
        coins = self._view_with_mempool().spendable()
        outs = [Output(amount, address) for address, amount in outputs]
        tx, _coins = build_payment_tx(self.key, coins, outs, self.fee_estimate().rate)
        return self.node.broadcast(tx)

    # --- payments (the PAYMENTS capability) ---------------------------------------------------

    def pay(self, payments: Sequence[Payment]) -> str:
        """Pay each payment (destination ``version || hash``, e.g. ``0x00 || BLAKE2b-160(key)``
        or ``0x1f || data`` for the one nulldata output) as an output, in order; the txid."""
        return self.pay_outputs([(_address_of(p), p.amount) for p in payments])

    def payment_status(self, txid: str, *, since_height: int = 0) -> PaymentStatus:
        """In the mempool: (None, 0); mined: its height (blocks scanned from ``since_height``,
        no ``--index-tx`` needed) and confirmations; LockNotFoundError if hsd has neither."""
        tip = self.node.height()
        height = self._payment_heights.get(txid)
        if height is not None and (height > tip or not self._in_block(txid, height)):
            height = None  # reorganised away: look again
        if height is None:
            if txid in {str(t) for t in self.rpc.call("getrawmempool")}:
                return PaymentStatus(None, 0)
            found = (h for h in range(max(0, since_height), tip + 1) if self._in_block(txid, h))
            height = next(found, None)
            if height is None:
                raise LockNotFoundError(
                    f"handshake tx {txid} is neither in the mempool nor in blocks "
                    f"{since_height}..{tip}"
                )
            self._payment_heights[txid] = height
        return PaymentStatus(height, tip - height + 1)

    def payment_proof(self, txid: str, payment: Payment) -> InclusionProof:
        """The ``handshake-merkle`` proof of mined ``txid``; ``item`` = the output paying."""
        status = self.payment_status(txid)
        if status.block_height is None:
            raise LockNotFoundError(f"handshake tx {txid} is not mined yet; no proof")
        raw = self._raw_block(status.block_height)
        proof = block_inclusion_proof(raw, status.block_height, txid)
        tx = next(tx for tx in parse_block(raw)[1] if tx.txid.hex() == txid)
        wanted = (_address_of(payment), payment.amount)
        vout = next((i for i, o in enumerate(tx.outputs) if (o.address, o.value) == wanted), None)
        if vout is None:
            raise ValidationError(
                f"handshake tx {txid} does not pay {payment.amount} doo to the address asked "
                f"for ({payment.destination.hex()})"
            )
        return dataclasses.replace(proof, item=vout)

    def _in_block(self, txid: str, height: int) -> bool:
        return any(tx.txid.hex() == txid for tx in parse_block(self._raw_block(height))[1])

    # --- locks ------------------------------------------------------------------------------

    def lock(self, terms: HtlcTerms) -> HtlcLock:
        terms.check_key_kind(KeyKind.SECP256K1_COMPRESSED)
        if terms.asset_id is not None:
            raise ConfigError("Handshake has no token assets here; asset_id must be None")
        if terms.refund_key != self.key.pubkey:
            raise ValidationError(
                "a Handshake lock refunds to the key that funds it (input 0 names it): "
                f"refund_key must be our key {self.key.pubkey.hex()}"
            )
        htlc = HtlcScript(terms.hashlock, terms.claim_key, terms.refund_key, terms.timelock_height)
        coins = self._view_with_mempool().spendable()
        tx, _coins = build_lock_tx(self.key, coins, htlc, terms.amount, self.fee_estimate().rate)
        txid = self.node.broadcast(tx)
        view = self._view_with_mempool()
        lock = view.locks.get(outpoint_key(txid, 0))
        if lock is None:
            raise LockNotFoundError(f"lock {txid} is in hsd's mempool but not in our view")
        return self._observe(lock, terms.hashlock, view)

    def find_locks(self, hashlock: bytes) -> list[HtlcLock]:
        self._resolver.watch(require_hashlock(hashlock))
        view = self._view_with_mempool()
        found = [
            self._observe(lock, hashlock, view)
            for lock in view.locks.values()
            if lock.pays(hashlock)
        ]
        return sorted(found, key=lambda lk: (lk.block_height is None, lk.block_height or 0))

    def scan_start_height(self) -> int:
        return self.index.birth_height

    def get_lock(self, lock_id: str) -> HtlcLock:
        txid, vout, hashlock = parse_lock_id(lock_id)
        view = self._view_with_mempool()
        lock = view.locks.get(outpoint_key(txid, vout))
        if lock is None or not lock.pays(hashlock):
            raise LockNotFoundError(f"no lock {lock_id} on handshake {self.network}")
        return self._observe(lock, hashlock, view)

    def confirmations(self, lock_id: str) -> int:
        return self.get_lock(lock_id).confirmations_at(self.node.height())

    def inclusion_proof(self, lock_id: str) -> InclusionProof:
        lock = self.get_lock(lock_id)
        if lock.block_height is None:
            raise LockNotFoundError(f"lock {lock_id} is not mined yet; no inclusion proof")
        raw = self._raw_block(lock.block_height)
        proof = block_inclusion_proof(raw, lock.block_height, lock.txid)
        first_input = decode_tx_base(proof.leaf).inputs[0]
        funding = self._find_tx(first_input.prev_txid, lock.block_height, raw)
        return dataclasses.replace(proof, context=(funding.encode_base(),))

    def _find_tx(self, txid: bytes, height: int, raw_block: bytes) -> Tx:
        """The mined transaction ``txid`` at or below ``height`` (the coin a lock's input 0
        spends: the ETM verifier needs it to bind the refund key), searching back at most
        :data:`FUNDING_SEARCH_BLOCKS` blocks."""
        for h in range(height, max(-1, height - FUNDING_SEARCH_BLOCKS), -1):
            _, txs = parse_block(raw_block if h == height else self._raw_block(h))
            for tx in txs:
                if tx.txid == txid:
                    return tx
        raise LockNotFoundError(
            f"the coin input 0 of the lock spends ({txid.hex()}) is not in the "
            f"{FUNDING_SEARCH_BLOCKS} blocks up to {height}; no lock proof for ETM"
        )

    # --- spends -----------------------------------------------------------------------------

    def claim(
        self, lock: HtlcLock, preimage: bytes, *, unsafe_skip_checks: bool = False
    ) -> HtlcSpend:
        if not unsafe_skip_checks:
            check_preimage(preimage, lock.terms.hashlock)
        txid, vout, _ = parse_lock_id(lock.lock_id)
        rate = self.fee_estimate().rate
        tx = build_claim_tx(self.key, txid, vout, lock.terms.amount, _htlc_of(lock), preimage, rate)
        return HtlcSpend(lock.lock_id, self.node.broadcast(tx), SpendKind.CLAIM, preimage, None)

    def refund(self, lock: HtlcLock, *, unsafe_skip_checks: bool = False) -> HtlcSpend:
        if not unsafe_skip_checks:
            next_height = self.node.height() + 1
            check_refund_allowed(f"lock {lock.lock_id}", lock.terms.timelock_height, next_height)
        txid, vout, _ = parse_lock_id(lock.lock_id)
        rate = self.fee_estimate().rate
        tx = build_refund_tx(self.key, txid, vout, lock.terms.amount, _htlc_of(lock), rate)
        return HtlcSpend(lock.lock_id, self.node.broadcast(tx), SpendKind.REFUND, None, None)

    def find_spend(self, lock: HtlcLock) -> HtlcSpend | None:
        txid, vout, hashlock = parse_lock_id(lock.lock_id)
        return _spend_of(
            self._view_with_mempool(), outpoint_key(txid, vout), lock.lock_id, hashlock
        )

    # --- activity for the swap watcher -------------------------------------------------------

    def watch_hashlock(self, hashlock: bytes) -> None:
        self._resolver.watch(hashlock)

    def htlc_activity(self, start_height: int, end_height: int) -> set[bytes]:
        """Hashlocks of etm-bridge locks made or spent in blocks ``start..end`` (and the
        mempool's if ``end_height`` reaches the tip); see :mod:`.activity`."""
        if start_height < self.index.birth_height:
            raise ValidationError(
                f"blocks below the birth height {self.index.birth_height} are not indexed "
                f"(asked from {start_height})"
            )
        view = self._view_with_mempool()
        unconfirmed = end_height >= view.next_height - 1
        return index_activity(
            view, start_height, end_height, self._resolver, unconfirmed=unconfirmed
        )

    # --- chain scanning ---------------------------------------------------------------------

    def sync(self) -> None:
        """Scan new blocks into the index; rescan from the birth height after a reorg."""
        tip = self.node.height()
        if self.index.tips:
            height, block_hash = self.index.tips[-1]
            if height > tip or self._hash_at(height) != block_hash:
                self.index = ChainIndex(self.index.birth_height)
                self._mempool.reset()
        start = self.index.next_height
        for height in range(start, tip + 1):
            block_hash = self._hash_at(height)
            _header, txs = parse_block(bytes.fromhex(self.rpc.call("getblock", block_hash, False)))
            for tx in txs:
                self.index.apply_tx(tx, height, self.key.address.key)
            self.index.record_tip(height, block_hash)
        if tip >= start:
            save_index(self.index_path, self.index)

    def _view_with_mempool(self) -> ChainIndex:
        self.sync()
        view = copy.deepcopy(self.index)
        txids = [str(txid) for txid in self.rpc.call("getrawmempool")]
        self._mempool.apply(view, txids, self._mempool_tx, self.key.address.key)
        return view

    def _mempool_tx(self, txid: str) -> Tx | None:
        try:
            raw = self.rpc.call("getrawtransaction", txid, False)
        except RPCError:
            return None
        return decode_tx(bytes.fromhex(raw))

    def _hash_at(self, height: int) -> str:
        return str(self.rpc.call("getblockhash", height))

    def _raw_block(self, height: int) -> bytes:
        return bytes.fromhex(self.rpc.call("getblock", self._hash_at(height), False))

    def _observe(self, lock: LockOutput, hashlock: bytes, view: ChainIndex) -> HtlcLock:
        lock_id = f"{lock.txid}:{lock.vout}:{hashlock.hex()}"
        spend = _spend_of(view, outpoint_key(lock.txid, lock.vout), lock_id, hashlock)
        state = LockState.OPEN
        if spend is not None:
            state = LockState.CLAIMED if spend.kind is SpendKind.CLAIM else LockState.REFUNDED
        terms = HtlcTerms(
            amount=lock.value,
            hashlock=hashlock,
            claim_key=lock.marker.claim_pubkey,
            refund_key=lock.marker.refund_pubkey,
            timelock_height=lock.timelock_height,
        )
        return HtlcLock("handshake", lock_id, lock.txid, terms, lock.height, state)


def _address_of(payment: Payment) -> Address:
    """A payment's destination ``version || hash`` as an output address."""
    if payment.data:
        raise ValidationError("a Handshake payment carries no call data (use a nulldata output)")
    return Address(payment.destination[0], payment.destination[1:])


def _htlc_of(lock: HtlcLock) -> HtlcScript:
    t = lock.terms
    return HtlcScript(t.hashlock, t.claim_key, t.refund_key, t.timelock_height)


def _spend_of(view: ChainIndex, key: str, lock_id: str, hashlock: bytes) -> HtlcSpend | None:
    record = view.spends.get(key)
    if record is None:
        return None
    if is_refund_witness(record.witness):
        return HtlcSpend(lock_id, record.txid, SpendKind.REFUND, None, record.height)
    preimage = preimage_from_witnesses([record.witness], hashlock)
    if preimage is None:
        return None
    return HtlcSpend(lock_id, record.txid, SpendKind.CLAIM, preimage, record.height)
