"""BitcoinAdapter: P2WSH HTLCs on Bitcoin, signed with our own key, through plain JSON-RPC.

Only RPCs that both Bitcoin Core and the bcoin launcher answer, with raw hex results:
getblockchaininfo (its ``chain``, once), getblockcount, getblockhash, getblockheader <hash>
false, getblock <hash> 0, getrawmempool, getrawtransaction <txid> 0 (for mempool transactions
only, so bitcoind needs no ``-txindex``), sendrawtransaction, estimatesmartfee. The node
wallet is never used (tests use it only as a faucet). Our coins and every etm-bridge lock are
found by scanning blocks into :mod:`.index` (a cache of the chain under ``data_dir``), so a
restarted adapter finds its locks again from the chain; the mempool is followed by
:mod:`.mempool`, which fetches each mempool transaction once.

Config (``from_config``): ``rpc_url``, ``rpc_user``, ``rpc_password``, ``secret_hex`` (our
32-byte private key), ``data_dir``, ``network`` (default ``regtest``; the node must be on it,
checked with ``getblockchaininfo`` before the first call: :mod:`.node_network`),
``birth_height`` (first block to scan, default 0), ``fallback_fee_sat_vb`` /
``min_fee_sat_vb`` / ``max_fee_sat_vb`` (default 2 / 1 / 1000: the node's estimate is used only
inside the bounds, see :mod:`.fees`), ``fee_rate_sat_vb`` (the user's own rate, ``--fee-rate``:
no estimate, at most the ceiling, at least the node's relay minimum), ``confirmations``.

Lock ids are ``<txid>:<vout>:<hashlock hex>``: the hashlock is part of the id because a P2WSH
output does not reveal it, and with it the lock can be re-identified from the chain alone.

Capabilities: ``htlc_activity`` (with ``watch_hashlock``: a P2WSH hides its hashlock),
inclusion proofs (``bitcoin-merkle``), payments (a payment's destination is a
``script_pubkey``; its proof names the output), watch-only balances (a public key's confirmed
P2WPKH coins, scanned without the secret), fee bumps of our unconfirmed claims and refunds
(replacement on Bitcoin Core, a CPFP child on bcoin: :mod:`.bumps`), and custody: locks whose
claim or refund key is a committee key policy (swap-in / counter HTLC v2: :mod:`.v2`) and the
committee's spends (``watch_policy``, ``custody_*``: :mod:`.custody`).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from bitcoin.core import CBlock, CScript, CTransaction, CTxOut, b2x
from bitcoin.segwit_addr import encode as bech32_encode

from etm_bridge.adapter import (
    BumpMethod,
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
    SpendFee,
    SpendKind,
    Tip,
    check_header_range,
)
from etm_bridge.errors import (
    ChainError,
    ConfigError,
    LockNotFoundError,
    RPCError,
    ValidationError,
)
from etm_bridge.hashlock import check_preimage, check_refund_allowed, require_hashlock
from etm_bridge.jsonrpc import JsonRpcClient

from .activity import HashlockResolver, index_activity
from .bumps import Package, build_cpfp_child, check_pays_only, child_vsize, package_of
from .custody import CustodyMixin
from .fees import FeeChoice, FeePolicy
from .index import ChainIndex, LockOutput, load_index, outpoint_key, save_index
from .mempool import MempoolCache
from .node_network import checked_rpc
from .proofs import block_inclusion_proof
from .script import hash160, preimage_from_witnesses
from .txbuild import (
    WalletKey,
    WatchOnlyKey,
    build_lock_tx,
    build_payment_tx,
    build_user_claim_tx,
    build_user_refund_tx,
    sat_vb_from_estimate,
)
from .v2 import KeyPolicy, htlc_of_terms, is_policy

HRP = {"mainnet": "bc", "testnet": "tb", "signet": "tb", "regtest": "bcrt"}
FEE_TARGET_BLOCKS = 2
log = logging.getLogger(__name__)


def parse_lock_id(lock_id: str) -> tuple[str, int, bytes]:
    """``txid:vout:hashlock`` -> (txid, vout, hashlock); LockNotFoundError if malformed."""
    try:
        txid, vout, hashlock_hex = lock_id.split(":")
        hashlock = require_hashlock(bytes.fromhex(hashlock_hex))
        if len(bytes.fromhex(txid)) != 32:
            raise ValueError("txid")
        return txid, int(vout), hashlock
    except ValueError:
        raise LockNotFoundError(
            f"{lock_id!r} is not a Bitcoin lock id (<txid>:<vout>:<hashlock hex>)"
        ) from None


class BitcoinAdapter(CustodyMixin, ChainAdapter):
    """Chain adapter for Bitcoin (any network; regtest in the tests)."""

    name = "bitcoin"
    #: from_config's options (etm_bridge.config checks [chains.<name>] tables against them).
    CONFIG_KEYS: ClassVar[Mapping[str, type] | None] = {
        "rpc_url": str, "rpc_user": str, "rpc_password": str, "secret_hex": str,
        "data_dir": Path, "network": str, "birth_height": int, "fallback_fee_sat_vb": int,
        "min_fee_sat_vb": int, "max_fee_sat_vb": int, "confirmations": int,
        "fee_rate_sat_vb": int,
    }  # fmt: skip
    WALLET_KEY: ClassVar[str] = "btc"
    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.HTLC_ACTIVITY,
            Capability.WATCH_HASHLOCK,
            Capability.INCLUSION_PROOFS,
            Capability.PAYMENTS,
            Capability.WATCH_ONLY_BALANCE,
            Capability.FEE_BUMPS,
            Capability.CUSTODY,
        }
    )

    def __init__(
        self,
        rpc: JsonRpcClient,
        key: WalletKey,
        data_dir: Path,
        *,
        network: str = "regtest",
        birth_height: int = 0,
        fees: FeePolicy | None = None,
        confirmations: int | None = None,
    ) -> None:
        if network not in HRP:
            raise ConfigError(f"unknown Bitcoin network {network!r}; known: {', '.join(HRP)}")
        self.rpc = checked_rpc(rpc, network)  # the node must be on ``network``
        self.key = key
        self.network = network
        self.fees = fees or FeePolicy()
        self.default_confirmations = confirmations or (1 if network == "regtest" else 6)
        self.index_path = Path(data_dir) / f"bitcoin-{network}-{hash160(key.pubkey).hex()}.json"
        self.index: ChainIndex = load_index(self.index_path, birth_height)
        self._mempool = MempoolCache()
        self._resolver = HashlockResolver()
        self._payment_heights: dict[str, int] = {}
        self._bump_methods: tuple[BumpMethod, ...] | None = None
        #: committee key policies whose v2 locks we rebuild (``watch_policy``), by hash
        self._policies: dict[bytes, KeyPolicy] = {}
        #: our committee submissions -> the height to look for them from (``custody.py``)
        self._submitted: dict[str, int] = {}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> BitcoinAdapter:
        try:
            rpc = JsonRpcClient(
                str(config["rpc_url"]),
                user=config.get("rpc_user"),
                password=config.get("rpc_password"),
            )
            key = WalletKey(bytes.fromhex(str(config["secret_hex"])))
            data_dir = Path(str(config["data_dir"]))
            birth_height = int(config.get("birth_height", 0))
            fees = FeePolicy.from_config(config)
            confirmations = config.get("confirmations")
            confirmations = None if confirmations is None else int(confirmations)
        except KeyError as exc:
            raise ConfigError(f"bitcoin adapter config needs {exc.args[0]!r}") from None
        except ValueError as exc:
            raise ConfigError(f"bitcoin adapter config: {exc}") from None
        return cls(
            rpc,
            key,
            data_dir,
            network=str(config.get("network", "regtest")),
            birth_height=birth_height,
            fees=fees,
            confirmations=confirmations,
        )

    def close(self) -> None:
        self.rpc.close()

    # --- identity and headers -------------------------------------------------------------

    def info(self) -> ChainInfo:
        return ChainInfo(
            chain="bitcoin",
            network=self.network,
            asset="BTC",
            base_unit="sat",
            decimals=8,
            block_time_s=600,
            default_confirmations=self.default_confirmations,
            key_kind=KeyKind.SECP256K1_COMPRESSED,
        )

    def tip(self) -> Tip:
        height = int(self.rpc.call("getblockcount"))
        return Tip(height, str(self.rpc.call("getblockhash", height)))

    def headers(self, start_height: int, count: int) -> list[bytes]:
        check_header_range(start_height, count)
        last = min(start_height + count, int(self.rpc.call("getblockcount")) + 1)
        return [
            bytes.fromhex(self.rpc.call("getblockheader", self._hash_at(h), False))
            for h in range(start_height, last)
        ]

    def recent_block_time_s(self, blocks: int = 144) -> int | None:
        """Mean spacing of the last ``blocks`` blocks (default about a day), or None on regtest:
        its blocks are mined on demand, so their spacing says nothing (a development stack left
        idle for a day would look like a hash-rate collapse)."""
        return None if self.network == "regtest" else self.mean_spacing_s(blocks)

    def mean_spacing_s(self, blocks: int) -> int | None:
        """Mean spacing of the last ``blocks`` blocks from their header times; None below
        height 2 (the genesis block's time is not the chain's)."""
        tip = int(self.rpc.call("getblockcount"))
        span = min(blocks, tip - 1)
        if span < 1:
            return None
        first, last = (self._header_time(h) for h in (tip - span, tip))
        return max(1, (last - first) // span)

    def _header_time(self, height: int) -> int:
        raw = bytes.fromhex(self.rpc.call("getblockheader", self._hash_at(height), False))
        return int.from_bytes(raw[68:72], "little")

    # --- our funds --------------------------------------------------------------------------

    def our_key(self) -> bytes:
        return self.key.pubkey

    def address(self) -> str:
        """Our P2WPKH (bech32) address, e.g. for the regtest faucet."""
        return str(bech32_encode(HRP[self.network], 0, hash160(self.key.pubkey)))

    def balance(self, asset_id: bytes | None = None) -> int:
        if asset_id is not None:
            raise ConfigError("Bitcoin has no token assets; asset_id must be None")
        return self._view_with_mempool().confirmed_balance()  # less coins pending txs spend

    def fee_estimate(self) -> FeeEstimate:
        """``estimatesmartfee 2`` in sat/vB (rounded up) within the configured bounds, else the
        fallback rate (:mod:`.fees`); ``source`` says which. A bounded estimate is logged."""
        choice = self.fee_choice()
        if choice.bounded:
            log.warning(
                "bitcoin node estimates %d sat/vB, outside min_fee_sat_vb..max_fee_sat_vb "
                "(%d..%d): paying %d sat/vB",
                choice.node_rate,
                self.fees.min_sat_vb,
                self.fees.max_sat_vb,
                choice.rate,
            )
        return FeeEstimate(choice.rate, "sat/vB", choice.source)

    def fee_choice(self) -> FeeChoice:
        """The node's estimate (None without one: bcoin, a young chain, a refused call) and
        the rate the fee policy makes of it; the user's own rate if configured (checked
        against the node's relay minimum)."""
        fixed = self.fees.fixed_sat_vb
        if fixed is not None:
            floor = self.relay_minimum_sat_vb()
            if fixed < floor:
                raise ValidationError(
                    f"fee rate {fixed} sat/vB is below the node's relay minimum ({floor} "
                    f"sat/vB): nothing that low would be relayed; pay at least {floor}"
                )
            return FeeChoice(fixed, "user", None)
        try:
            rate = sat_vb_from_estimate(self.rpc.call("estimatesmartfee", FEE_TARGET_BLOCKS))
        except RPCError:
            rate = None
        return self.fees.choose(rate)

    @contextmanager
    def paying(self, rate: int | None) -> Iterator[None]:
        """Pay the user's own ``rate`` (sat/vB) inside the block: at most ``max_fee_sat_vb``
        (ConfigError), at least the node's relay minimum (ValidationError, checked now)."""
        if rate is None:
            yield
            return
        saved = self.fees
        self.fees = dataclasses.replace(saved, fixed_sat_vb=rate)
        try:
            self.fee_choice()  # refuses a rate below the node's relay minimum
            yield
        finally:
            self.fees = saved

    def relay_minimum_sat_vb(self) -> int:
        """The node's ``minrelaytxfee`` in whole sat/vB (rounded up; 1 if it does not say)."""
        info = self.rpc.call("getmempoolinfo")
        reply = {"feerate": info.get("minrelaytxfee")} if isinstance(info, dict) else None
        return sat_vb_from_estimate(reply) or 1

    # --- payments (the PAYMENTS capability) ---------------------------------------------------

    def pay(self, payments: Sequence[Payment | tuple[bytes, int]]) -> str:
        """Pay each payment (``Payment(script_pubkey, amount_sat)`` or a ``(script_pubkey,
        amount_sat)`` pair) as an output, in this order, from our coins (change back to us, fee
        from :meth:`fee_estimate`); returns the txid. For payments that are not HTLC locks,
        e.g. a pool deposit tagged with an ``OP_RETURN`` (amount 0)."""
        outputs = [_output(p) for p in payments]
        coins = self._view_with_mempool().spendable()  # not coins a mempool tx already spends
        outs = [CTxOut(amount, CScript(script)) for script, amount in outputs]
        tx, _coins = build_payment_tx(self.key, coins, outs, self.fee_estimate().rate)
        return self._broadcast(tx)

    def payment_status(self, txid: str, *, since_height: int = 0) -> PaymentStatus:
        """In the mempool: (None, 0); mined: its height (scanning blocks from ``since_height``:
        no ``-txindex`` needed) and confirmations; LockNotFoundError if the node has neither."""
        tip = int(self.rpc.call("getblockcount"))
        height = self._payment_heights.get(txid)
        if height is not None and (height > tip or not self._in_block(txid, height)):
            height = None  # reorganised away: look again
        if height is None:
            if txid in {str(t) for t in self.rpc.call("getrawmempool")}:
                return PaymentStatus(None, 0)
            height = next(
                (h for h in range(max(0, since_height), tip + 1) if self._in_block(txid, h)),
                None,
            )
            if height is None:
                raise LockNotFoundError(
                    f"bitcoin tx {txid} is neither in the mempool nor in blocks "
                    f"{since_height}..{tip}"
                )
            self._payment_heights[txid] = height
        return PaymentStatus(height, tip - height + 1)

    def payment_proof(self, txid: str, payment: Payment) -> InclusionProof:
        """The ``bitcoin-merkle`` proof of mined ``txid``; ``item`` = the output paying."""
        status = self.payment_status(txid)
        if status.block_height is None:
            raise LockNotFoundError(f"bitcoin tx {txid} is not mined yet; no proof")
        block = self._block(status.block_height)
        proof = block_inclusion_proof(block, status.block_height, txid)
        tx = next(tx for tx in block.vtx if tx.GetTxid()[::-1].hex() == txid)
        wanted = _output(payment)
        vout = next(
            (i for i, o in enumerate(tx.vout) if (bytes(o.scriptPubKey), o.nValue) == wanted),
            None,
        )
        if vout is None:
            raise ValidationError(
                f"bitcoin tx {txid} does not pay {payment.amount} sat to the output script asked "
                f"for ({payment.destination.hex()})"
            )
        return dataclasses.replace(proof, item=vout)

    def transaction_proof(self, txid: str, height: int) -> InclusionProof:
        """The ``bitcoin-merkle`` proof of transaction ``txid`` in the block at ``height``."""
        return block_inclusion_proof(self._block(height), height, txid)

    def _in_block(self, txid: str, height: int) -> bool:
        return any(tx.GetTxid()[::-1].hex() == txid for tx in self._block(height).vtx)

    @classmethod
    def balance_of(cls, config: Mapping[str, Any], key: bytes) -> int:
        """Confirmed sat on ``key``'s P2WPKH output, scanned from the node's blocks into an
        index under ``config["data_dir"]`` (no secret: the key cannot sign)."""
        rpc = JsonRpcClient(
            str(config["rpc_url"]),
            user=config.get("rpc_user"),
            password=config.get("rpc_password"),
            timeout_s=10.0,
        )
        adapter = cls(
            rpc,
            WatchOnlyKey(key),
            Path(str(config["data_dir"])),
            network=str(config.get("network", "regtest")),
            birth_height=int(config.get("birth_height", 0)),
        )
        try:
            return adapter.balance()
        finally:
            adapter.close()

    # --- locks ------------------------------------------------------------------------------

    def lock(self, terms: HtlcTerms) -> HtlcLock:
        """Lock to two keys (v1), or with a committee key policy as the claim key (swap-in
        HTLC v2) or as the refund key (counter HTLC v2): ``v2.py``. The policy is watched."""
        if terms.asset_id is not None:
            raise ConfigError("Bitcoin has no token assets; asset_id must be None")
        htlc = htlc_of_terms(terms)  # checks the key kinds, v1 or v2
        self._learn_policies(terms)
        coins = self._view_with_mempool().spendable()  # not coins a mempool tx already spends
        rate = self.fee_estimate().rate
        tx, _coins = build_lock_tx(self.key, coins, htlc, terms.amount, rate)
        txid = self._broadcast(tx)
        view = self._view_with_mempool()
        lock = view.locks.get(outpoint_key(txid, 0))
        if lock is None:  # sendrawtransaction returns once the tx is in the mempool
            raise ChainError(
                f"the node accepted lock {txid} but shows it neither mined nor pending"
            )
        return self._observe(lock, terms.hashlock, view)

    def find_locks(self, hashlock: bytes) -> list[HtlcLock]:
        self._resolver.watch(require_hashlock(hashlock))  # htlc_activity reports it from now on
        view = self._view_with_mempool()
        found = [
            self._observe(lock, hashlock, view)
            for lock in view.locks.values()
            if lock.htlc(hashlock) is not None
        ]
        return sorted(found, key=lambda lk: (lk.block_height is None, lk.block_height or 0))

    def scan_start_height(self) -> int:
        """The ``birth_height``: blocks below it are not indexed, their locks not found."""
        return self.index.birth_height

    def get_lock(self, lock_id: str) -> HtlcLock:
        txid, vout, hashlock = parse_lock_id(lock_id)
        view = self._view_with_mempool()
        lock = view.locks.get(outpoint_key(txid, vout))
        if lock is None or lock.htlc(hashlock) is None:
            raise LockNotFoundError(f"no lock {lock_id} on bitcoin {self.network}")
        return self._observe(lock, hashlock, view)

    def confirmations(self, lock_id: str) -> int:
        lock = self.get_lock(lock_id)
        return lock.confirmations_at(int(self.rpc.call("getblockcount")))

    def inclusion_proof(self, lock_id: str) -> InclusionProof:
        lock = self.get_lock(lock_id)
        if lock.block_height is None:
            raise LockNotFoundError(f"lock {lock_id} is not mined yet; no inclusion proof")
        return block_inclusion_proof(self._block(lock.block_height), lock.block_height, lock.txid)

    # --- spends -----------------------------------------------------------------------------

    def claim(
        self, lock: HtlcLock, preimage: bytes, *, unsafe_skip_checks: bool = False
    ) -> HtlcSpend:
        if not unsafe_skip_checks:
            check_preimage(preimage, lock.terms.hashlock)
        self._learn_policies(lock.terms)
        txid, vout, _ = parse_lock_id(lock.lock_id)
        rate = self.fee_estimate().rate
        spent = (txid, vout, lock.terms.amount)
        tx = build_user_claim_tx(self.key, spent, htlc_of_terms(lock.terms), preimage, rate)
        return HtlcSpend(lock.lock_id, self._broadcast(tx), SpendKind.CLAIM, preimage, None)

    def refund(self, lock: HtlcLock, *, unsafe_skip_checks: bool = False) -> HtlcSpend:
        if not unsafe_skip_checks:
            next_height = int(self.rpc.call("getblockcount")) + 1
            check_refund_allowed(f"lock {lock.lock_id}", lock.terms.timelock_height, next_height)
        self._learn_policies(lock.terms)
        txid, vout, _ = parse_lock_id(lock.lock_id)
        rate = self.fee_estimate().rate
        spent = (txid, vout, lock.terms.amount)
        tx = build_user_refund_tx(self.key, spent, htlc_of_terms(lock.terms), rate)
        return HtlcSpend(lock.lock_id, self._broadcast(tx), SpendKind.REFUND, None, None)

    def find_spend(self, lock: HtlcLock) -> HtlcSpend | None:
        self._learn_policies(lock.terms)
        txid, vout, hashlock = parse_lock_id(lock.lock_id)
        return _spend_of(
            self._view_with_mempool(), outpoint_key(txid, vout), lock.lock_id, hashlock
        )

    def _learn_policies(self, terms: HtlcTerms) -> None:
        """Watch the key policy a lock's terms name (a restarted adapter knows no policy until
        told: ``watch_policy``, or any lock or terms naming it given to us)."""
        for key in (terms.claim_key, terms.refund_key):
            if is_policy(key):
                self.watch_policy(key)

    # --- fee bumps (the FEE_BUMPS capability, see bumps.py) ----------------------------------

    def spend_fee(self, lock: HtlcLock, spend: HtlcSpend) -> SpendFee:
        """The live package of our unconfirmed ``spend`` (it and its CPFP children)."""
        package = self._package(lock, spend)
        return SpendFee(
            txid=spend.txid,
            rate=package.rate,
            fee=package.fee,
            vsize=package.vsize,
            child_vsize=child_vsize(self.key),
            estimate=self.fee_estimate().rate,
            ceiling=self.fees.max_sat_vb,
            value=lock.terms.amount,
            methods=self.bump_methods(),
        )

    def bump_spend(
        self, lock: HtlcLock, spend: HtlcSpend, rate: int, method: BumpMethod
    ) -> HtlcSpend:
        """Replace ``spend`` at ``rate`` (same input, paid to our key) or add a CPFP child
        spending its package's last output to our key; never above ``max_fee_sat_vb``."""
        if isinstance(rate, bool) or not isinstance(rate, int) or rate > self.fees.max_sat_vb:
            raise ValidationError(
                f"fee bump to {rate!r} sat/vB refused: above max_fee_sat_vb "
                f"({self.fees.max_sat_vb}); raise it in the [chains.bitcoin] config to pay more"
            )
        package = self._package(lock, spend)
        if rate <= package.rate:
            raise ValidationError(f"{spend.txid} already pays {package.rate} sat/vB >= {rate}")
        if method is BumpMethod.CPFP:
            tx = build_cpfp_child(self.key, package, rate)
        else:
            txid, vout, _ = parse_lock_id(lock.lock_id)
            spent, htlc = (txid, vout, lock.terms.amount), htlc_of_terms(lock.terms)
            if spend.kind is SpendKind.CLAIM:
                assert spend.preimage is not None  # HtlcSpend checks claims carry one
                check_preimage(spend.preimage, lock.terms.hashlock)
                tx = build_user_claim_tx(self.key, spent, htlc, spend.preimage, rate)
            else:
                tx = build_user_refund_tx(self.key, spent, htlc, rate)
        check_pays_only(tx, self.key.script_pubkey)
        new_txid = self._broadcast(tx)
        if method is BumpMethod.CPFP:
            return spend
        return dataclasses.replace(spend, txid=new_txid, block_height=None)

    def bump_methods(self) -> tuple[BumpMethod, ...]:
        """Replacement first where the node accepts it (Bitcoin Core, by ``getnetworkinfo``'s
        ``subversion``), else CPFP only (bcoin refuses any conflicting transaction)."""
        if self._bump_methods is None:
            agent = str(self.rpc.call("getnetworkinfo").get("subversion", ""))
            replace = "Satoshi" in agent
            self._bump_methods = (
                (BumpMethod.REPLACE, BumpMethod.CPFP) if replace else (BumpMethod.CPFP,)
            )
        return self._bump_methods

    def _package(self, lock: HtlcLock, spend: HtlcSpend) -> Package:
        """The spend (checked to spend ``lock``) and its live package in the mempool."""
        if spend.txid not in {str(t) for t in self.rpc.call("getrawmempool")}:
            raise LockNotFoundError(f"spend {spend.txid} is not in the mempool (mined or dropped)")
        spend_tx = self._mempool_tx(spend.txid)
        if spend_tx is None:
            raise LockNotFoundError(f"spend {spend.txid} left the mempool")
        txid, vout, _ = parse_lock_id(lock.lock_id)
        spent = [(i.prevout.hash[::-1].hex(), i.prevout.n) for i in spend_tx.vin]
        if spent != [(txid, vout)]:
            raise ValidationError(f"{spend.txid} does not spend lock {lock.lock_id} alone")
        descendants = self.rpc.call("getmempooldescendants", spend.txid)
        children = [tx for tx in map(self._mempool_tx, map(str, descendants)) if tx is not None]
        return package_of(spend_tx, lock.terms.amount, children, self.key.script_pubkey)

    # --- activity for the swap watcher -------------------------------------------------------

    def watch_hashlock(self, hashlock: bytes) -> None:
        """Make :meth:`htlc_activity` report locks of ``hashlock`` (a P2WSH hides it)."""
        self._resolver.watch(hashlock)

    def htlc_activity(self, start_height: int, end_height: int) -> set[bytes]:
        """Hashlocks of etm-bridge locks made, claimed or refunded in blocks ``start..end``,
        plus the mempool's if ``end_height`` reaches the tip. Locks are reported only for
        watched hashlocks (:meth:`watch_hashlock`, :meth:`find_locks`); spends always, from
        their witness script. Reads the index (blocks are scanned once), see ``activity.py``."""
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
        tip = int(self.rpc.call("getblockcount"))
        if self.index.tips:
            height, block_hash = self.index.tips[-1]
            if height > tip or self._hash_at(height) != block_hash:
                self.index = ChainIndex(self.index.birth_height)
                self._mempool.reset()
        start = self.index.next_height
        for height in range(start, tip + 1):
            block = self._block(height)
            for tx in block.vtx:
                self.index.apply_tx(tx, height, self.key.script_pubkey)
            self.index.record_tip(height, block.GetHash()[::-1].hex())
        if tip >= start:
            save_index(self.index_path, self.index)

    def _view_with_mempool(self) -> ChainIndex:
        """The synced index plus the mempool's transactions that touch it (a throwaway copy),
        its v2 locks bound to the watched policies their markers name."""
        self.sync()
        view = copy.deepcopy(self.index)
        txids = [str(txid) for txid in self.rpc.call("getrawmempool")]
        self._mempool.apply(view, txids, self._mempool_tx, self.key.script_pubkey)
        for lock in view.locks.values():
            if lock.is_v2:
                policy = self._policies.get(lock.marker_v2.policy_hash)
                lock.policy_hex = "" if policy is None else policy.encode().hex()
        return view

    def _mempool_tx(self, txid: str) -> CTransaction | None:
        try:
            raw = self.rpc.call("getrawtransaction", txid, 0)
        except RPCError:
            return None  # left the mempool between the two calls
        return CTransaction.deserialize(bytes.fromhex(raw))

    def _broadcast(self, tx: CTransaction) -> str:
        """Send ``tx``; the index is not touched (it holds mined blocks only), the mempool view
        shows the tx from now on, and forgets it if the node ever drops it."""
        return str(self.rpc.call("sendrawtransaction", b2x(tx.serialize())))

    def _hash_at(self, height: int) -> str:
        return str(self.rpc.call("getblockhash", height))

    def _block(self, height: int) -> CBlock:
        raw = self.rpc.call("getblock", self._hash_at(height), 0)
        return CBlock.deserialize(bytes.fromhex(raw))

    def _observe(
        self, lock: LockOutput, hashlock: bytes, view: ChainIndex | None = None
    ) -> HtlcLock:
        lock_id = f"{lock.txid}:{lock.vout}:{hashlock.hex()}"
        spend = _spend_of(view or self.index, outpoint_key(lock.txid, lock.vout), lock_id, hashlock)
        state = LockState.OPEN
        if spend is not None:
            state = LockState.CLAIMED if spend.kind is SpendKind.CLAIM else LockState.REFUNDED
        terms = HtlcTerms(
            amount=lock.value_sat,
            hashlock=hashlock,
            claim_key=lock.marker.claim_pubkey,
            refund_key=lock.marker.refund_pubkey,
            timelock_height=lock.timelock_height,
        )
        return HtlcLock("bitcoin", lock_id, lock.txid, terms, lock.height, state)


def _output(payment: Payment | tuple[bytes, int]) -> tuple[bytes, int]:
    """(script_pubkey, amount_sat) of a payment; Bitcoin payments carry no data."""
    if not isinstance(payment, Payment):
        return payment
    if payment.data:
        raise ValidationError("a Bitcoin payment carries no data (use an OP_RETURN output)")
    return payment.destination, payment.amount


def _spend_of(view: ChainIndex, key: str, lock_id: str, hashlock: bytes) -> HtlcSpend | None:
    record = view.spends.get(key)
    if record is None:
        return None
    if _is_refund(record.witness):
        return HtlcSpend(lock_id, record.txid, SpendKind.REFUND, None, record.height)
    preimage = preimage_from_witnesses([record.witness], hashlock)
    if preimage is None:  # spent by a witness that is neither form: not our template
        return None
    return HtlcSpend(lock_id, record.txid, SpendKind.CLAIM, preimage, record.height)


def _is_refund(witness: list[bytes]) -> bool:
    """The ELSE branch of any template (v1, v2): the selector under the script is empty."""
    return len(witness) >= 3 and witness[-2] == b""
