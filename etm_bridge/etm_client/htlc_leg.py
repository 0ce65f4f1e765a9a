"""The native ETM HTLC as a swap leg: a :class:`~etm_bridge.adapter.ChainAdapter` over an ETM node.

Everything goes through the node's HTTP API (:class:`~etm_bridge.node.client.NodeClient`), so
it runs on any machine that can reach the node: writes are signed exchange transactions
``xchg_htlc_lock`` / ``_claim`` / ``_refund`` (types 203-205, see
:mod:`etm_bridge.exchange.txtypes`); HTLC state is read with the node's HTLC routes
(:mod:`etm_bridge.node.htlc_api`: HTLCs by hashlock or id, the pool swap history). Registered
as the ``etm`` adapter (entry point), configured with ``url``, ``secret_hex`` (the ETM ed25519
seed), optional ``fee`` (base units per transaction) and ``admin_token``. A ``data_dir`` key
(older configs: the node's data directory) is still accepted and ignored: the node's database
is never opened.

ETM specifics the swap engine sees through the seam:

- Keys are ETM addresses (20 bytes, :attr:`KeyKind.ETM_ADDRESS`): an HTLC names its recipient
  by address and refunds to its sender, so a lock's refund key must be ours.
- ``lock_id`` and ``txid`` of a native lock are the lock transaction's id (the HTLC id).
- Claims are valid up to the expiry height and the HTLC's wall-clock deadline, refunds after
  either (``exchange.htlc``): observed locks carry ``deadline_s`` (unix seconds); the claim's
  preimage is read back from the HTLC record. :meth:`finalized_height` is the node's
  ``finalizedHeight`` (a pool operator locks the counter leg only once the user's ETM lock is
  final). A spend we did not submit has no known
  transaction id: it is reported as ``state:<htlc id>`` with an unknown block height.
- ``headers`` returns block ids (ETM is not SPV-relayed anywhere; the ids are enough to notice a
  block that changed). No inclusion proofs.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, ClassVar

from ..adapter import (
    Capability,
    ChainAdapter,
    ChainInfo,
    FeeEstimate,
    HtlcLock,
    HtlcSpend,
    HtlcTerms,
    KeyKind,
    LockState,
    SpendKind,
    Tip,
)
from ..chain.address import address_hash, decode_address, encode_address
from ..chain.keys import SigningKey
from ..chain.params import ETM_EPOCH_UNIX
from ..chain.tx import Tx
from ..errors import (
    ConfigError,
    LockNotFoundError,
    NotFoundError,
    TimelockError,
    ValidationError,
)
from ..exchange import payloads as pl
from ..exchange import records as rc
from ..exchange import txtypes as tt
from ..exchange.htlc import Htlc, HtlcStatus
from ..hashlock import check_preimage, refund_allowed, require_hashlock
from ..node.client import NodeClient
from ..swaps.core.pool_terms import pool_leg_key

DEFAULT_FEE = 100_000
_STATES = {
    HtlcStatus.LOCKED: LockState.OPEN,
    HtlcStatus.CLAIMED: LockState.CLAIMED,
    HtlcStatus.REFUNDED: LockState.REFUNDED,
}


_MAKES_HTLC: dict[int, Any] = {
    tt.HTLC_LOCK: pl.HtlcLockPayload,
    tt.SWAP_IN: pl.SwapIn,
    tt.SWAP_OUT: pl.SwapOut,
}
_SPENDS_HTLC: dict[int, Any] = {tt.HTLC_CLAIM: pl.HtlcClaim, tt.HTLC_REFUND: pl.HtlcRefund}


def _key_of(account: str) -> bytes:
    """The 20-byte address of an ETM account, or :func:`pool_leg_key` for a pool's
    pseudo-account (``pool:btc``), which no key of ours can equal."""
    if account.startswith("pool:"):
        return pool_leg_key(account.removeprefix("pool:"))
    return decode_address(account)


class EtmAdapter(ChainAdapter):
    name = "etm"
    #: No inclusion proofs: native HTLCs are read from ETM state. Anyone may claim an HTLC
    #: with its preimage; the claim pays the recipient (``exchange.htlc``).
    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.HTLC_ACTIVITY, Capability.WATCH_ONLY_BALANCE, Capability.CLAIMS_BY_ANYONE}
    )
    #: from_config's options (``data_dir`` is tolerated and ignored).
    CONFIG_KEYS: ClassVar[Mapping[str, type] | None] = {
        "url": str, "admin_token": str, "secret_hex": str, "fee": int, "data_dir": Path,
    }  # fmt: skip

    def __init__(
        self, client: NodeClient, data_dir: Path | None, seed: bytes, fee: int = DEFAULT_FEE
    ):
        """``data_dir`` is ignored (kept for callers written when state was read from the
        node's database); pass None."""
        self.client, self.fee = client, fee
        self.key = SigningKey(seed)
        self._next_nonce = 0
        self._sent: dict[str, tuple[int, Any]] = {}  # tx id -> (type, payload) we submitted
        self._heights: dict[str, int] = {}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> EtmAdapter:
        try:
            seed = bytes.fromhex(str(config["secret_hex"]))
            client = NodeClient(str(config["url"]), admin_token=config.get("admin_token"))
            return cls(client, None, seed, int(config.get("fee", DEFAULT_FEE)))
        except KeyError as exc:
            raise ConfigError(f"etm adapter config needs {exc.args[0]!r}") from None
        except ValueError as exc:
            raise ConfigError(f"etm adapter config: {exc}") from None

    # --- identity -----------------------------------------------------------------------------

    def info(self) -> ChainInfo:
        status = self.client.status()
        return ChainInfo(
            chain="etm",
            network=f"etm-{status['networkId']}",
            asset="ETM",
            base_unit="base unit",
            decimals=8,
            block_time_s=int(status["blockTimeS"]),
            default_confirmations=1,
            key_kind=KeyKind.ETM_ADDRESS,
        )

    def tip(self) -> Tip:
        status = self.client.status()
        return Tip(int(status["height"]), str(status["tipId"]))

    def finalized_height(self) -> int | None:
        return int(self.client.status()["finalizedHeight"])

    def headers(self, start_height: int, count: int) -> list[bytes]:
        if start_height < 0 or count < 0:
            raise ValidationError(
                f"start_height and count must be >= 0, got {start_height}, {count}"
            )
        top = min(start_height + count, self.tip().height + 1)
        return [bytes.fromhex(self.client.block(h)["fullId"]) for h in range(start_height, top)]

    def our_key(self) -> bytes:
        return address_hash(self.key.public_key)

    def balance(self, asset_id: bytes | None = None) -> int:
        try:
            return int(self.client.account(encode_address(self.our_key()))["balance"])
        except NotFoundError:
            return 0

    @classmethod
    def balance_of(cls, config: Mapping[str, Any], key: bytes) -> int:
        """The balance of ETM address ``key`` (20 bytes) from the node at ``config["url"]``."""
        client = NodeClient(str(config["url"]), timeout_s=5.0)
        try:
            return int(client.account(encode_address(key))["balance"])
        except NotFoundError:
            return 0

    def fee_estimate(self) -> FeeEstimate:
        return FeeEstimate(self.fee, "base unit/tx", "fallback")

    # --- writes -------------------------------------------------------------------------------

    def _send(self, type_id: int, payload: Any) -> str:
        try:
            account = self.client.account(encode_address(self.our_key()))
            nonce = max(int(account["nonce"]), self._next_nonce)
        except NotFoundError:
            nonce = self._next_nonce
        network = int(self.client.status()["networkId"])
        tx = Tx.create(
            self.key,
            network=network,
            type_id=type_id,
            nonce=nonce,
            fee=self.fee,
            payload=pl.encode_payload(payload),
        )
        self.client.submit_tx(tx.encoded)
        self._next_nonce = nonce + 1
        self._sent[tx.id.hex()] = (type_id, payload)
        return tx.id.hex()

    def lock(self, terms: HtlcTerms) -> HtlcLock:
        terms.check_key_kind(KeyKind.ETM_ADDRESS)
        if terms.refund_key != self.our_key():
            raise ValidationError(
                "a native ETM HTLC refunds to its sender: refund_key must be ours"
            )
        if terms.asset_id is not None:
            raise ValidationError("native ETM HTLCs lock ETM only (asset_id must be None)")
        payload = pl.HtlcLockPayload(
            encode_address(terms.claim_key), terms.amount, terms.hashlock, terms.timelock_height
        )
        txid = self._send(tt.HTLC_LOCK, payload)
        return HtlcLock("etm", txid, txid, terms, None)

    def lock_swap_out(self, terms: HtlcTerms, asset: str, min_out: int) -> HtlcLock:
        """Lock ETM to pool ``asset`` with ``xchg_swap_out`` (the pool reserves at least
        ``min_out`` of the asset for us); ``terms.claim_key`` must be the pool's leg key."""
        terms.check_key_kind(KeyKind.ETM_ADDRESS)
        if terms.claim_key != pool_leg_key(asset) or terms.refund_key != self.our_key():
            raise ValidationError(f"a swap out locks ETM from us to pool {asset!r}")
        payload = pl.SwapOut(asset, terms.amount, terms.hashlock, terms.timelock_height, min_out)
        txid = self._send(tt.SWAP_OUT, payload)
        return HtlcLock("etm", txid, txid, terms, None)

    def claim(
        self, lock: HtlcLock, preimage: bytes, *, unsafe_skip_checks: bool = False
    ) -> HtlcSpend:
        if not unsafe_skip_checks:
            check_preimage(preimage, lock.terms.hashlock)
        txid = self._send(tt.HTLC_CLAIM, pl.HtlcClaim(bytes.fromhex(lock.lock_id), preimage))
        return HtlcSpend(lock.lock_id, txid, SpendKind.CLAIM, preimage, None)

    def refund(self, lock: HtlcLock, *, unsafe_skip_checks: bool = False) -> HtlcSpend:
        tip = self.tip().height
        by_height = refund_allowed(lock.terms.timelock_height, tip + 1)
        if not unsafe_skip_checks and not by_height and not self._past_deadline(lock, tip):
            raise TimelockError(
                f"ETM HTLC {lock.lock_id} can be refunded from block "
                f"{lock.terms.timelock_height + 1} or after unix time {lock.deadline_s}; the "
                f"next block is {tip + 1}"
            )
        txid = self._send(tt.HTLC_REFUND, pl.HtlcRefund(bytes.fromhex(lock.lock_id)))
        return HtlcSpend(lock.lock_id, txid, SpendKind.REFUND, None, None)

    def _past_deadline(self, lock: HtlcLock, tip: int) -> bool:
        """The tip block is stamped after the lock's deadline (the rule the node's mempool
        checks a refund against)."""
        if lock.deadline_s is None:
            return False
        return ETM_EPOCH_UNIX + int(self.client.block(tip)["timestamp"]) > lock.deadline_s

    # --- reads --------------------------------------------------------------------------------

    def _htlc(self, htlc_id: str) -> Htlc | None:
        """The HTLC ``htlc_id`` (64 hex digits) in the node's state, or None."""
        if len(htlc_id) != 64 or not all(c in "0123456789abcdefABCDEF" for c in htlc_id):
            return None
        try:
            return rc.decode(Htlc, self.client.htlc(htlc_id))
        except NotFoundError:
            return None

    def exchange_swaps(
        self, asset: str, after: str | None = None
    ) -> tuple[list[tuple[rc.PoolSwap, Htlc]], str | None]:
        """The swaps pool ``asset`` opened (open or ended) after cursor ``after`` (None: all),
        with their HTLC, in the order opened, and the cursor to poll from next: what a pool
        operator must act on (:mod:`etm_bridge.swaps.core.pool_terms`). Paged reads of the node's
        swap log, so each request is small whatever the chain's history."""
        rows, cursor = self.client.swap_history(asset, after)
        swaps = [
            (rc.decode(rc.PoolSwap, row["swap"]), rc.decode(Htlc, row["htlc"])) for row in rows
        ]
        return swaps, cursor

    def _height(self, txid: str) -> int | None:
        if txid in self._heights:
            return self._heights[txid]
        try:
            height = self.client.transaction(txid).get("height")
        except NotFoundError:
            return None
        if height is not None:
            self._heights[txid] = int(height)
        return None if height is None else int(height)

    def _observe(self, htlc: Htlc) -> HtlcLock:
        terms = HtlcTerms(
            htlc.amount,
            htlc.hashlock,
            _key_of(htlc.recipient),
            _key_of(htlc.sender),
            htlc.expiry_height,
        )
        lock_id = htlc.htlc_id.hex()
        height = self._height(lock_id)
        if height is None:  # a pool's swap-in HTLC: its id is not a tx id, but it is in state,
            height = self._heights[lock_id] = self.tip().height  # so mined at or below the tip
        deadline = ETM_EPOCH_UNIX + htlc.deadline_s if htlc.deadline_s else None
        return HtlcLock("etm", lock_id, lock_id, terms, height, _STATES[htlc.status], deadline)

    def _pending_locks(self, known: Collection[str]) -> list[HtlcLock]:
        pending = []
        for txid, (type_id, p) in self._sent.items():
            if type_id not in (tt.HTLC_LOCK, tt.SWAP_OUT) or txid in known:
                continue
            if self._height(txid) is not None:
                continue
            try:
                self.client.transaction(txid)  # still in the mempool?
            except NotFoundError:
                continue
            if type_id == tt.SWAP_OUT:
                amount, to = p.amount_in, pool_leg_key(p.asset)
            else:
                amount, to = p.amount, decode_address(p.recipient)
            terms = HtlcTerms(amount, p.hashlock, to, self.our_key(), p.expiry_height)
            pending.append(HtlcLock("etm", txid, txid, terms, None))
        return pending

    def find_locks(self, hashlock: bytes) -> list[HtlcLock]:
        require_hashlock(hashlock)
        htlcs = [rc.decode(Htlc, raw) for raw in self.client.htlcs(hashlock)]
        found = [self._observe(h) for h in htlcs if h.hashlock == hashlock]
        known = {h.htlc_id.hex() for h in htlcs}
        found += [lk for lk in self._pending_locks(known) if lk.terms.hashlock == hashlock]
        return sorted(found, key=lambda lk: (lk.block_height is None, lk.block_height or 0))

    def get_lock(self, lock_id: str) -> HtlcLock:
        htlc = self._htlc(lock_id)
        if htlc is not None:
            return self._observe(htlc)
        for lock in self._pending_locks(()):
            if lock.lock_id == lock_id:
                return lock
        raise LockNotFoundError(f"no ETM HTLC {lock_id}")

    def confirmations(self, lock_id: str) -> int:
        return self.get_lock(lock_id).confirmations_at(self.tip().height)

    def htlc_activity(self, start_height: int, end_height: int) -> set[bytes]:
        """Hashlocks of HTLCs made, claimed or refunded in blocks ``start..end`` (lets the
        watcher examine only the swaps a new block concerns)."""
        found: set[bytes] = set()
        for height in range(start_height, end_height + 1):
            for tx in self.client.block(height).get("transactions", []):
                kind, raw = tx.get("type"), bytes.fromhex(tx.get("payload", ""))
                if kind in _MAKES_HTLC:
                    found.add(pl.decode_payload(_MAKES_HTLC[kind], raw).hashlock)
                elif kind in _SPENDS_HTLC:
                    spent = self._htlc(pl.decode_payload(_SPENDS_HTLC[kind], raw).htlc_id.hex())
                    if spent is not None:
                        found.add(spent.hashlock)
        return found

    def find_spend(self, lock: HtlcLock) -> HtlcSpend | None:
        htlc = self._htlc(lock.lock_id)
        ours = [
            (txid, type_id)
            for txid, (type_id, p) in self._sent.items()
            if type_id in (tt.HTLC_CLAIM, tt.HTLC_REFUND) and p.htlc_id.hex() == lock.lock_id
        ]
        if htlc is not None and htlc.status is not HtlcStatus.LOCKED:
            kind = SpendKind.CLAIM if htlc.status is HtlcStatus.CLAIMED else SpendKind.REFUND
            wanted = tt.HTLC_CLAIM if kind is SpendKind.CLAIM else tt.HTLC_REFUND
            txid = next((t for t, ty in ours if ty == wanted and self._height(t) is not None), None)
            preimage = htlc.preimage if kind is SpendKind.CLAIM else None
            height = self._height(txid) if txid else None
            return HtlcSpend(lock.lock_id, txid or f"state:{lock.lock_id}", kind, preimage, height)
        for txid, type_id in ours:  # submitted by us, not applied yet
            try:
                self.client.transaction(txid)
            except NotFoundError:
                continue
            p = self._sent[txid][1]
            if type_id == tt.HTLC_CLAIM:
                return HtlcSpend(lock.lock_id, txid, SpendKind.CLAIM, p.preimage, None)
            return HtlcSpend(lock.lock_id, txid, SpendKind.REFUND, None, None)
        return None
