"""The native ETM HTLC as a swap leg: a :class:`~etm_bridge.adapter.ChainAdapter` over an ETM node.

Everything goes through the node's HTTP API (:class:`~etm_bridge.node.client.NodeClient`), so
it runs on any machine that can reach the node: writes are signed exchange transactions
``xchg_htlc_lock`` / ``_claim`` / ``_refund`` (types 203-205, see
:mod:`etm_bridge.exchange.txtypes`) through the key's one :class:`~.submit.Submitter`; HTLC
state is read with the node's HTLC routes (:mod:`etm_bridge.node.htlc_api`: HTLCs by hashlock
or id) and pending transactions with its mempool route. Registered as the ``etm`` adapter
(entry point), configured with ``url`` or ``urls`` (several endpoints: a
:class:`~.endpoints.NodeSet` writes to all and reads from the ones the majority backs),
``secret_hex`` (the ETM ed25519 seed), optional ``fee``
(base units per transaction) and ``admin_token``. A ``data_dir`` key (older configs) is still
accepted and ignored: the node's database is never opened.

ETM specifics the swap engine sees through the seam:

- Keys are ETM addresses (20 bytes, :attr:`KeyKind.ETM_ADDRESS`): an HTLC names its recipient
  by address and refunds to its sender, so a lock's refund key must be ours.
- ``lock_id`` and ``txid`` of a native lock are the lock transaction's id (the HTLC id).
- Claims are valid up to the expiry height and the HTLC's wall-clock deadline, refunds after
  either (``exchange.htlc``): observed locks carry ``deadline_s`` (unix seconds); the claim's
  preimage is read back from the HTLC record. Anyone may claim with the preimage; the claim
  pays the recipient (capability ``claims_by_anyone``). :meth:`finalized_height` is the node's
  ``finalizedHeight`` (a pool operator locks the counter leg only once the user's ETM lock is
  final).
- Our locks and spends still in the mempool are read from the node's pending transactions, so
  an adapter made after a restart sees them too. A mined spend this adapter did not submit
  has no known transaction id: it is reported as ``state:<htlc id>`` with an unknown height.
- ``headers`` returns block ids (ETM is not SPV-relayed anywhere; the ids are enough to notice a
  block that changed). No inclusion proofs, no payments.
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
from ..errors import (
    ConfigError,
    LockNotFoundError,
    NotFoundError,
    TimelockError,
    ValidationError,
)
from ..exchange import payloads, records, txtypes
from ..exchange.htlc import Htlc, HtlcStatus
from ..hashlock import check_preimage, refund_allowed, require_hashlock
from ..node.client import NodeClient
from ..swaps.core.pool_terms import pool_leg_key
from .endpoints import NodeSet
from .inclusion import CensorshipSuspected
from .submit import Submitter

DEFAULT_FEE = 100_000
_STATES = {
    HtlcStatus.LOCKED: LockState.OPEN,
    HtlcStatus.CLAIMED: LockState.CLAIMED,
    HtlcStatus.REFUNDED: LockState.REFUNDED,
}
#: Transaction types that make an HTLC, and those that spend one, with their payload classes.
MAKES_HTLC: dict[int, Any] = {
    txtypes.HTLC_LOCK: payloads.HtlcLockPayload,
    txtypes.SWAP_IN: payloads.SwapIn,
    txtypes.SWAP_OUT: payloads.SwapOut,
}
SPENDS_HTLC: dict[int, Any] = {
    txtypes.HTLC_CLAIM: payloads.HtlcClaim,
    txtypes.HTLC_REFUND: payloads.HtlcRefund,
}


def key_of_account(account: str) -> bytes:
    """The 20-byte address of an ETM account, or :func:`pool_leg_key` for a pool's
    pseudo-account (``pool:<asset>``), which no key of ours can equal."""
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
        "url": str, "urls": tuple, "admin_token": str, "secret_hex": str, "fee": int,
        "data_dir": Path,
    }  # fmt: skip

    def __init__(
        self,
        client: NodeClient,
        seed: bytes,
        fee: int = DEFAULT_FEE,
        submitter: Submitter | None = None,
    ) -> None:
        """``submitter``: the key's one signer when something else in the process signs with
        the same key (the exchange port); a new one otherwise."""
        self.client, self.fee = client, fee
        self.key = SigningKey(seed)
        self.submitter = submitter or Submitter(client, self.key)
        if self.submitter.key.public_key != self.key.public_key:
            raise ConfigError("the ETM leg's submitter signs with another key")
        self._spends: dict[str, list[str]] = {}  # htlc id -> our claim/refund tx ids
        self._heights: dict[str, int] = {}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> EtmAdapter:
        try:
            seed = bytes.fromhex(str(config["secret_hex"]))
            urls = [str(u) for u in config.get("urls") or [config["url"]]]
            client = NodeSet.from_urls(urls, admin_token=config.get("admin_token"))
            return cls(client, seed, int(config.get("fee", DEFAULT_FEE)))
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

    def address(self) -> str:
        return encode_address(self.our_key())

    def balance(self, asset_id: bytes | None = None) -> int:
        try:
            return int(self.client.account(self.address())["balance"])
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

    # --- inclusion ----------------------------------------------------------------------------

    def check_inclusion(self) -> tuple[CensorshipSuspected, ...]:
        """Our transactions not in a block yet: late ones re-sent to every endpoint, very late
        ones returned as suspected censorship (:meth:`NodeSet.check_inclusion`; nothing on a
        plain client)."""
        if isinstance(self.client, NodeSet):
            return self.client.check_inclusion()
        return ()

    # --- writes -------------------------------------------------------------------------------

    def _send(self, type_id: int, payload: Any) -> str:
        return self.submitter.submit(type_id, payload, fee=self.fee, wait=False).id

    def lock(self, terms: HtlcTerms) -> HtlcLock:
        terms.check_key_kind(KeyKind.ETM_ADDRESS)
        if terms.refund_key != self.our_key():
            raise ValidationError(
                "a native ETM HTLC refunds to its sender: refund_key must be ours"
            )
        if terms.asset_id is not None:
            raise ValidationError("native ETM HTLCs lock ETM only (asset_id must be None)")
        payload = payloads.HtlcLockPayload(
            encode_address(terms.claim_key), terms.amount, terms.hashlock, terms.timelock_height
        )
        txid = self._send(txtypes.HTLC_LOCK, payload)
        return HtlcLock("etm", txid, txid, terms, None)

    def claim(
        self, lock: HtlcLock, preimage: bytes, *, unsafe_skip_checks: bool = False
    ) -> HtlcSpend:
        if not unsafe_skip_checks:
            check_preimage(preimage, lock.terms.hashlock)
        claim = payloads.HtlcClaim(bytes.fromhex(lock.lock_id), preimage)
        txid = self._send(txtypes.HTLC_CLAIM, claim)
        self._spends.setdefault(lock.lock_id, []).append(txid)
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
        txid = self._send(txtypes.HTLC_REFUND, payloads.HtlcRefund(bytes.fromhex(lock.lock_id)))
        self._spends.setdefault(lock.lock_id, []).append(txid)
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
            return records.decode(Htlc, self.client.htlc(htlc_id))
        except NotFoundError:
            return None

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
            key_of_account(htlc.recipient),
            key_of_account(htlc.sender),
            htlc.expiry_height,
        )
        lock_id = htlc.htlc_id.hex()
        height = self._height(lock_id)
        if height is None:  # a pool's swap-in HTLC: its id is not a tx id, but it is in state,
            height = self._heights[lock_id] = self.tip().height  # so mined at or below the tip
        deadline = ETM_EPOCH_UNIX + htlc.deadline_s if htlc.deadline_s else None
        return HtlcLock("etm", lock_id, lock_id, terms, height, _STATES[htlc.status], deadline)

    def _pending(self, kinds: Mapping[int, Any]) -> list[tuple[str, int, Any]]:
        """Our transactions in the node's mempool of the given types: (id, type, payload)."""
        found = []
        for tx in self.client.pending_transactions(self.address()):
            kind = int(tx["type"])
            if kind in kinds:
                payload = payloads.decode_payload(kinds[kind], bytes.fromhex(tx["payload"]))
                found.append((str(tx["id"]), kind, payload))
        return found

    def _pending_locks(self, known: Collection[str]) -> list[HtlcLock]:
        """Our HTLC locks and swap outs still in the mempool (swap outs are submitted by the
        exchange port with our key, ``etm_client.exchange``)."""
        pending = []
        for txid, kind, p in self._pending(MAKES_HTLC):
            if kind == txtypes.SWAP_IN or txid in known:
                continue
            if kind == txtypes.SWAP_OUT:
                amount, to = p.amount_in, pool_leg_key(p.asset)
            else:
                amount, to = p.amount, decode_address(p.recipient)
            terms = HtlcTerms(amount, p.hashlock, to, self.our_key(), p.expiry_height)
            pending.append(HtlcLock("etm", txid, txid, terms, None))
        return pending

    def find_locks(self, hashlock: bytes) -> list[HtlcLock]:
        require_hashlock(hashlock)
        htlcs = [records.decode(Htlc, raw) for raw in self.client.htlcs(hashlock)]
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
                if kind in MAKES_HTLC:
                    found.add(payloads.decode_payload(MAKES_HTLC[kind], raw).hashlock)
                elif kind in SPENDS_HTLC:
                    htlc_id = payloads.decode_payload(SPENDS_HTLC[kind], raw).htlc_id.hex()
                    spent = self._htlc(htlc_id)
                    if spent is not None:
                        found.add(spent.hashlock)
        return found

    def find_spend(self, lock: HtlcLock) -> HtlcSpend | None:
        htlc = self._htlc(lock.lock_id)
        if htlc is not None and htlc.status is not HtlcStatus.LOCKED:
            kind = SpendKind.CLAIM if htlc.status is HtlcStatus.CLAIMED else SpendKind.REFUND
            mined = [t for t in self._spends.get(lock.lock_id, []) if self._height(t) is not None]
            txid = mined[0] if mined else None
            preimage = htlc.preimage if kind is SpendKind.CLAIM else None
            height = self._height(txid) if txid else None
            return HtlcSpend(lock.lock_id, txid or f"state:{lock.lock_id}", kind, preimage, height)
        for txid, type_id, p in self._pending(SPENDS_HTLC):  # ours, not applied yet
            if p.htlc_id.hex() != lock.lock_id:
                continue
            if type_id == txtypes.HTLC_CLAIM:
                return HtlcSpend(lock.lock_id, txid, SpendKind.CLAIM, p.preimage, None)
            return HtlcSpend(lock.lock_id, txid, SpendKind.REFUND, None, None)
        return None
