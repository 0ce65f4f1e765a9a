"""A tiny deterministic in-memory chain with HTLCs, for the fake adapter and fast tests.

It enforces the HTLC rules exactly as the real chains do (and raises
:class:`~etm_bridge.errors.InvalidTransactionError` where a node would answer -26/-25 or a
contract would revert): a claim needs a 32-byte preimage whose sha256 is the hashlock and the
claim key's signature; a refund needs the refund key and a block height strictly above the
timelock; a spent lock cannot be spent again; a lock needs the funds plus the fee.

Model: account balances (no UTXOs). A transaction is applied to the state when it is accepted
into the mempool (validated against the *next* block height, as a node does); :meth:`mine`
puts the mempool into blocks. Blocks have real 80-byte proof-of-work headers whose Merkle root
commits to the transactions, so inclusion proofs are Merkle branches (``fake-merkle``). Keys are
33-byte "compressed pubkeys" derived from a secret by hashing (not real EC points); a secret
stands in for a signature. Chains are kept by name in the process so an adapter re-created from
the same config sees the same chain.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any, ClassVar

from etm_bridge.adapter import HtlcSpend, HtlcTerms, LockState, SpendKind
from etm_bridge.chain.codec import sha256d as dsha256
from etm_bridge.errors import InsufficientFundsError, InvalidTransactionError, LockNotFoundError
from etm_bridge.hashlock import refund_allowed, sha256
from etm_bridge.merkle import merkle_branch_le, merkle_root_le

BLOCK_TIME_S = 600
GENESIS_TIME = 1_700_000_000
REGTEST_BITS = 0x207FFFFF
#: Flat fee of every transaction, in base units.
FEE = 1_000
#: Smallest lock amount; below it a lock is "dust".
DUST_LIMIT = 546


def header_time(header: bytes) -> int:
    """The time field of an 80-byte header."""
    return int(struct.unpack_from("<I", header, 68)[0])


def fake_pubkey(secret: bytes) -> bytes:
    """The 33-byte public key the fake chain derives from a secret."""
    return b"\x02" + sha256(b"etm-fake-key" + secret)


@dataclass
class LockRecord:
    lock_id: str
    txid: str
    terms: HtlcTerms
    block_height: int | None = None
    state: LockState = LockState.OPEN
    spend: HtlcSpend | None = None


@dataclass
class _Block:
    height: int
    header: bytes
    txs: list[bytes]

    @property
    def hash_le(self) -> bytes:
        return dsha256(self.header)


@dataclass
class FakeChain:
    """The chain state: blocks, mempool, balances, locks."""

    name: str
    blocks: list[_Block] = field(default_factory=list)
    mempool: list[bytes] = field(default_factory=list)
    balances: dict[tuple[bytes, bytes | None], int] = field(default_factory=dict)
    locks: dict[str, LockRecord] = field(default_factory=dict)
    tx_heights: dict[str, int] = field(default_factory=dict)
    nonce: int = 0
    #: Seconds between the header times of new blocks (a test slows the chain by raising it).
    spacing_s: int = BLOCK_TIME_S

    _registry: ClassVar[dict[str, FakeChain]] = {}

    @classmethod
    def named(cls, name: str) -> FakeChain:
        """The process-wide chain called ``name`` (created with a genesis block if new)."""
        if name not in cls._registry:
            chain = cls(name)
            chain._append_block([chain._encode({"type": "genesis", "chain": name})])
            cls._registry[name] = chain
        return cls._registry[name]

    @classmethod
    def forget(cls, name: str) -> None:
        """Drop the chain called ``name`` (tests that want a fresh chain)."""
        cls._registry.pop(name, None)

    # --- blocks ---------------------------------------------------------------------------

    @property
    def tip_height(self) -> int:
        return len(self.blocks) - 1

    def _append_block(self, txs: list[bytes]) -> None:
        height = len(self.blocks)
        prev = self.blocks[-1].hash_le if self.blocks else b"\x00" * 32
        root = merkle_root_le([dsha256(tx) for tx in txs])
        time = header_time(self.blocks[-1].header) + self.spacing_s if self.blocks else GENESIS_TIME
        header = struct.pack("<i32s32sIII", 1, prev, root, time, REGTEST_BITS, height)
        self.blocks.append(_Block(height, header, txs))
        for tx in txs:
            self.tx_heights[txid_of(tx)] = height

    def mine(self, count: int = 1) -> None:
        """Mine ``count`` blocks; the first takes the whole mempool plus a coinbase."""
        for _ in range(count):
            coinbase = self._encode({"type": "coinbase", "height": len(self.blocks)})
            txs, self.mempool = [coinbase, *self.mempool], []
            self._append_block(txs)
            self._confirm()

    def _confirm(self) -> None:
        for record in self.locks.values():
            if record.block_height is None and record.txid in self.tx_heights:
                record.block_height = self.tx_heights[record.txid]
            spend = record.spend
            if spend is not None and spend.block_height is None and spend.txid in self.tx_heights:
                record.spend = _with_height(spend, self.tx_heights[spend.txid])

    def merkle_proof(self, txid: str) -> tuple[int, bytes, bytes, tuple[bytes, ...], int, int]:
        """(height, header, raw tx, branch, index, tx count) of a mined transaction."""
        if txid not in self.tx_heights:
            raise LockNotFoundError(f"transaction {txid} is not in a block of chain {self.name}")
        block = self.blocks[self.tx_heights[txid]]
        ids = [txid_of(tx) for tx in block.txs]
        index = ids.index(txid)
        branch = merkle_branch_le([bytes.fromhex(i)[::-1] for i in ids], index)
        return block.height, block.header, block.txs[index], branch, index, len(ids)

    # --- transactions ---------------------------------------------------------------------

    def _encode(self, body: dict[str, Any]) -> bytes:
        self.nonce += 1
        return json.dumps({**body, "nonce": self.nonce}, sort_keys=True).encode()

    def _submit(self, body: dict[str, Any]) -> str:
        raw = self._encode(body)
        self.mempool.append(raw)
        return txid_of(raw)

    def _debit(self, key: bytes, asset_id: bytes | None, amount: int) -> None:
        have = self.balances.get((key, asset_id), 0)
        if have < amount:
            raise InsufficientFundsError(
                f"key {key.hex()} has {have} of asset {_asset(asset_id)}, needs {amount}"
            )
        self.balances[(key, asset_id)] = have - amount

    def credit(self, key: bytes, amount: int, asset_id: bytes | None = None) -> str:
        """Mint ``amount`` to ``key`` (the fake's faucet); returns the txid."""
        self.balances[(key, asset_id)] = self.balances.get((key, asset_id), 0) + amount
        return self._submit({"type": "mint", "to": key.hex(), "amount": amount})

    def submit_payment(self, secret: bytes, outputs: list[tuple[bytes, int, bytes]]) -> str:
        """Pay each ``(destination, amount, memo)`` from the key of ``secret`` in one
        transaction (plus :data:`FEE`); the destination is credited as a key (any bytes)."""
        sender = fake_pubkey(secret)
        if not outputs or any(amount < 0 for _, amount, _ in outputs):
            raise InvalidTransactionError("a payment needs outputs of non-negative amounts")
        self._debit(sender, None, sum(amount for _, amount, _ in outputs) + FEE)
        for to, amount, _ in outputs:
            self.balances[(to, None)] = self.balances.get((to, None), 0) + amount
        paid = [[to.hex(), amount, memo.hex()] for to, amount, memo in outputs]
        return self._submit({"type": "pay", "from": sender.hex(), "outputs": paid})

    def tx_height(self, txid: str) -> int | None:
        """The block height of transaction ``txid`` (None: in the mempool); LockNotFoundError
        if the chain never saw it."""
        if txid in self.tx_heights:
            return self.tx_heights[txid]
        if any(txid_of(raw) == txid for raw in self.mempool):
            return None
        raise LockNotFoundError(f"no transaction {txid} on chain {self.name}")

    def submit_lock(self, secret: bytes, terms: HtlcTerms) -> LockRecord:
        if terms.amount < DUST_LIMIT:
            raise InvalidTransactionError(f"lock amount {terms.amount} is dust (< {DUST_LIMIT})")
        sender = fake_pubkey(secret)
        if terms.asset_id is None:
            self._debit(sender, None, terms.amount + FEE)
        else:
            self._debit(sender, None, FEE)
            self._debit(sender, terms.asset_id, terms.amount)
        txid = self._submit({"type": "lock", "from": sender.hex(), **_terms_json(terms)})
        record = LockRecord(f"{txid}:0", txid, terms)
        self.locks[record.lock_id] = record
        return record

    def _open_lock(self, lock_id: str) -> LockRecord:
        record = self.locks.get(lock_id)
        if record is None:
            raise InvalidTransactionError(f"missing-inputs: no lock {lock_id} on {self.name}")
        if record.state is not LockState.OPEN:
            raise InvalidTransactionError(f"missing-inputs: lock {lock_id} already spent")
        return record

    def _pay_out(self, record: LockRecord, to: bytes) -> None:
        asset = record.terms.asset_id
        if asset is None:
            if record.terms.amount <= FEE:
                raise InvalidTransactionError("fee is larger than the locked amount")
            self.balances[(to, None)] = self.balances.get((to, None), 0) + record.terms.amount - FEE
        else:
            self._debit(to, None, FEE)
            self.balances[(to, asset)] = self.balances.get((to, asset), 0) + record.terms.amount

    def submit_claim(self, secret: bytes, lock_id: str, preimage: bytes) -> HtlcSpend:
        record = self._open_lock(lock_id)
        if len(preimage) != 32:
            raise InvalidTransactionError(f"script-failed: preimage is {len(preimage)} bytes")
        if sha256(preimage) != record.terms.hashlock:
            raise InvalidTransactionError("script-failed: sha256(preimage) != hashlock")
        if fake_pubkey(secret) != record.terms.claim_key:
            raise InvalidTransactionError("signature-failed: signer is not the claim key")
        self._pay_out(record, record.terms.claim_key)
        txid = self._submit({"type": "claim", "lock": lock_id, "preimage": preimage.hex()})
        return self._spent(record, HtlcSpend(lock_id, txid, SpendKind.CLAIM, preimage, None))

    def submit_refund(self, secret: bytes, lock_id: str) -> HtlcSpend:
        record = self._open_lock(lock_id)
        if not refund_allowed(record.terms.timelock_height, self.tip_height + 1):
            raise InvalidTransactionError(
                f"non-final: refund of lock {lock_id} needs a block above "
                f"{record.terms.timelock_height}, next block is {self.tip_height + 1}"
            )
        if fake_pubkey(secret) != record.terms.refund_key:
            raise InvalidTransactionError("signature-failed: signer is not the refund key")
        self._pay_out(record, record.terms.refund_key)
        txid = self._submit({"type": "refund", "lock": lock_id})
        return self._spent(record, HtlcSpend(lock_id, txid, SpendKind.REFUND, None, None))

    @staticmethod
    def _spent(record: LockRecord, spend: HtlcSpend) -> HtlcSpend:
        record.state = LockState.CLAIMED if spend.kind is SpendKind.CLAIM else LockState.REFUNDED
        record.spend = spend
        return spend


def txid_of(raw: bytes) -> str:
    """Display-order txid of a raw fake transaction (reversed double sha256)."""
    return dsha256(raw)[::-1].hex()


def _with_height(spend: HtlcSpend, height: int) -> HtlcSpend:
    return HtlcSpend(spend.lock_id, spend.txid, spend.kind, spend.preimage, height)


def _asset(asset_id: bytes | None) -> str:
    return "native" if asset_id is None else asset_id.hex()


def _terms_json(terms: HtlcTerms) -> dict[str, Any]:
    return {
        "amount": terms.amount,
        "hashlock": terms.hashlock.hex(),
        "claim_key": terms.claim_key.hex(),
        "refund_key": terms.refund_key.hex(),
        "timelock_height": terms.timelock_height,
        "asset_id": None if terms.asset_id is None else terms.asset_id.hex(),
    }
