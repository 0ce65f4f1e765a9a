"""FakeAdapter: a complete :class:`~etm_bridge.adapter.ChainAdapter` over the in-memory chain.

It is the worked example of ``adapters/README.md`` and the adapter of the fast unit tests. It
keeps nothing but its config: every answer comes from the :class:`FakeChain` it points at, so
an adapter re-created from the same config mid-swap sees the same locks.

Config keys: ``chain`` (name of the in-process chain, default ``"fake"``), ``secret_hex``
(our signing secret, hex; required), ``network`` (label, default ``"memory"``).

Capabilities: inclusion proofs (``fake-merkle``), payments (a payment's destination is a key of
the chain; its proof names the output), watch-only balances. :class:`ScanningFakeAdapter` adds a
block scanner (``htlc_activity``), as the real adapters have.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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
    Payment,
    PaymentStatus,
    Tip,
    check_header_range,
)
from etm_bridge.errors import ConfigError, LockNotFoundError, ValidationError
from etm_bridge.hashlock import check_preimage, check_refund_allowed, require_hashlock
from etm_bridge.testing.fakechain import (
    BLOCK_TIME_S,
    FEE,
    FakeChain,
    LockRecord,
    fake_pubkey,
    header_time,
)


class FakeAdapter(ChainAdapter):
    """An adapter for a :class:`FakeChain`; ``secret`` is our signing secret."""

    name = "fake"
    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.INCLUSION_PROOFS, Capability.PAYMENTS, Capability.WATCH_ONLY_BALANCE}
    )

    def __init__(self, chain: FakeChain, secret: bytes, network: str = "memory") -> None:
        if len(secret) < 16:
            raise ConfigError("fake adapter secret must be at least 16 bytes")
        self.chain = chain
        self._secret = secret
        self._network = network

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FakeAdapter:
        try:
            secret = bytes.fromhex(str(config["secret_hex"]))
        except KeyError:
            raise ConfigError("fake adapter config needs 'secret_hex'") from None
        except ValueError:
            raise ConfigError("fake adapter 'secret_hex' is not hex") from None
        chain = FakeChain.named(str(config.get("chain", "fake")))
        return cls(chain, secret, str(config.get("network", "memory")))

    def config(self) -> dict[str, str]:
        """The config that re-creates this adapter (what a restart would read from disk)."""
        return {
            "chain": self.chain.name,
            "secret_hex": self._secret.hex(),
            "network": self._network,
        }

    # --- identity and headers -------------------------------------------------------------

    def info(self) -> ChainInfo:
        return ChainInfo(
            chain="fake",
            network=self._network,
            asset="FAKE",
            base_unit="unit",
            decimals=8,
            block_time_s=BLOCK_TIME_S,
            default_confirmations=1,
            key_kind=KeyKind.SECP256K1_COMPRESSED,
        )

    def tip(self) -> Tip:
        block = self.chain.blocks[-1]
        return Tip(block.height, block.hash_le[::-1].hex())

    def headers(self, start_height: int, count: int) -> list[bytes]:
        check_header_range(start_height, count)
        return [b.header for b in self.chain.blocks[start_height : start_height + count]]

    def recent_block_time_s(self, blocks: int = 144) -> int | None:
        """Mean spacing of the last ``blocks`` blocks' header times, as a proof-of-work adapter."""
        tip = self.chain.tip_height
        span = min(blocks, tip - 1)
        if span < 1:
            return None
        first, last = (header_time(self.chain.blocks[h].header) for h in (tip - span, tip))
        return max(1, (last - first) // span)

    # --- our funds --------------------------------------------------------------------------

    def our_key(self) -> bytes:
        return fake_pubkey(self._secret)

    def balance(self, asset_id: bytes | None = None) -> int:
        return self.chain.balances.get((self.our_key(), asset_id), 0)

    def fee_estimate(self) -> FeeEstimate:
        return FeeEstimate(rate=FEE, rate_unit="unit/tx", source="node")

    # --- locks ------------------------------------------------------------------------------

    def lock(self, terms: HtlcTerms) -> HtlcLock:
        terms.check_key_kind(self.info().key_kind)
        return self._observe(self.chain.submit_lock(self._secret, terms))

    def find_locks(self, hashlock: bytes) -> list[HtlcLock]:
        require_hashlock(hashlock)
        return [self._observe(r) for r in self.chain.locks.values() if r.terms.hashlock == hashlock]

    def get_lock(self, lock_id: str) -> HtlcLock:
        return self._observe(self._record(lock_id))

    def confirmations(self, lock_id: str) -> int:
        return self.get_lock(lock_id).confirmations_at(self.chain.tip_height)

    def inclusion_proof(self, lock_id: str) -> InclusionProof:
        record = self._record(lock_id)
        height, header, raw, branch, index, count = self.chain.merkle_proof(record.txid)
        return InclusionProof("fake-merkle", height, header, raw, branch, index, count)

    # --- payments and balances -------------------------------------------------------------

    def pay(self, payments: Sequence[Payment]) -> str:
        outputs = [(p.destination, p.amount, p.data) for p in payments]
        return self.chain.submit_payment(self._secret, outputs)

    def payment_status(self, txid: str, *, since_height: int = 0) -> PaymentStatus:
        height = self.chain.tx_height(txid)
        confirmations = 0 if height is None else self.chain.tip_height - height + 1
        return PaymentStatus(height, confirmations)

    def payment_proof(self, txid: str, payment: Payment) -> InclusionProof:
        height, header, raw, branch, index, count = self.chain.merkle_proof(txid)
        wanted = [payment.destination.hex(), payment.amount, payment.data.hex()]
        outputs = json.loads(raw).get("outputs", [])
        if wanted not in outputs:
            raise ValidationError(f"transaction {txid} does not make this payment")
        return InclusionProof(
            "fake-merkle", height, header, raw, branch, index, count, item=outputs.index(wanted)
        )

    @classmethod
    def balance_of(cls, config: Mapping[str, Any], key: bytes) -> int:
        return FakeChain.named(str(config.get("chain", "fake"))).balances.get((key, None), 0)

    # --- spends -----------------------------------------------------------------------------

    def claim(
        self, lock: HtlcLock, preimage: bytes, *, unsafe_skip_checks: bool = False
    ) -> HtlcSpend:
        if not unsafe_skip_checks:
            check_preimage(preimage, lock.terms.hashlock)
        return self.chain.submit_claim(self._secret, lock.lock_id, preimage)

    def refund(self, lock: HtlcLock, *, unsafe_skip_checks: bool = False) -> HtlcSpend:
        if not unsafe_skip_checks:
            next_height = self.chain.tip_height + 1
            check_refund_allowed(f"lock {lock.lock_id}", lock.terms.timelock_height, next_height)
        return self.chain.submit_refund(self._secret, lock.lock_id)

    def find_spend(self, lock: HtlcLock) -> HtlcSpend | None:
        return self._record(lock.lock_id).spend

    # --- helpers ----------------------------------------------------------------------------

    def _record(self, lock_id: str) -> LockRecord:
        try:
            return self.chain.locks[lock_id]
        except KeyError:
            raise LockNotFoundError(
                f"no lock {lock_id!r} on fake chain {self.chain.name}"
            ) from None

    def _observe(self, record: LockRecord) -> HtlcLock:
        return HtlcLock(
            chain="fake",
            lock_id=record.lock_id,
            txid=record.txid,
            terms=record.terms,
            block_height=record.block_height,
            state=record.state,
        )


class ScanningFakeAdapter(FakeAdapter):
    """A fake adapter with a block scanner: ``htlc_activity`` reports the hashlock of every
    lock, claim and refund in a range of blocks (what the watcher uses to examine only the
    swaps new blocks concern)."""

    CAPABILITIES: ClassVar[frozenset[Capability]] = FakeAdapter.CAPABILITIES | {
        Capability.HTLC_ACTIVITY
    }

    def htlc_activity(self, start_height: int, end_height: int) -> set[bytes]:
        check_header_range(start_height, end_height)
        found: set[bytes] = set()
        for block in self.chain.blocks[start_height : end_height + 1]:
            for raw in block.txs:
                body = json.loads(raw)
                if body["type"] == "lock":
                    found.add(bytes.fromhex(body["hashlock"]))
                elif body["type"] in ("claim", "refund"):
                    found.add(self.chain.locks[body["lock"]].terms.hashlock)
        return found
