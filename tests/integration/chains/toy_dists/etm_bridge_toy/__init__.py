"""The throwaway chain's adapter plugin (entry point ``etm_bridge.adapters``:
``toy = etm_bridge_toy:ToyAdapter``): the fake adapter under the name ``toy``, over a fake chain
that mines one block for every transaction it accepts (so a test needs no miner) and stamps its
headers with the wall clock (the ETM exchange refuses proofs against a stale relay)."""

from __future__ import annotations

import struct
import time
from dataclasses import replace
from typing import Any

from etm_bridge.adapter import Capability, ChainInfo, HtlcSpend, HtlcTerms
from etm_bridge.chain.codec import sha256d
from etm_bridge.merkle import merkle_root_le
from etm_bridge.testing.fake import ScanningFakeAdapter
from etm_bridge.testing.fakechain import REGTEST_BITS, FakeChain, LockRecord, _Block, txid_of


class ToyChain(FakeChain):
    """A fake chain that mines each accepted transaction into its own block."""

    def _append_block(self, txs: list[bytes]) -> None:
        height = len(self.blocks)
        prev = self.blocks[-1].hash_le if self.blocks else b"\x00" * 32
        last = struct.unpack_from("<I", self.blocks[-1].header, 68)[0] if self.blocks else 0
        stamp = max(int(time.time()), last + 1)
        root = merkle_root_le([sha256d(tx) for tx in txs])
        header = struct.pack("<i32s32sIII", 1, prev, root, stamp, REGTEST_BITS, height)
        self.blocks.append(_Block(height, header, txs))
        for tx in txs:
            self.tx_heights[txid_of(tx)] = height

    def credit(self, key: bytes, amount: int, asset_id: bytes | None = None) -> str:
        txid = super().credit(key, amount, asset_id)
        self.mine(1)
        return txid

    def submit_payment(self, secret: bytes, outputs: list[tuple[bytes, int, bytes]]) -> str:
        txid = super().submit_payment(secret, outputs)
        self.mine(1)
        return txid

    def submit_lock(self, secret: bytes, terms: HtlcTerms) -> LockRecord:
        record = super().submit_lock(secret, terms)
        self.mine(1)
        return record

    def submit_claim(self, secret: bytes, lock_id: str, preimage: bytes) -> HtlcSpend:
        super().submit_claim(secret, lock_id, preimage)
        self.mine(1)
        return self.locks[lock_id].spend  # type: ignore[return-value]

    def submit_refund(self, secret: bytes, lock_id: str) -> HtlcSpend:
        super().submit_refund(secret, lock_id)
        self.mine(1)
        return self.locks[lock_id].spend  # type: ignore[return-value]


class ToyAdapter(ScanningFakeAdapter):
    """The fake adapter with its block scanner, under the toy chain's name and key."""

    name = "toy"
    WALLET_KEY = "toy"  # the wallet's key of the toy profile (label ``toy``)
    CAPABILITIES = frozenset({Capability.HTLC_ACTIVITY, Capability.INCLUSION_PROOFS,
                              Capability.PAYMENTS, Capability.WATCH_ONLY_BALANCE})  # fmt: skip

    def info(self) -> ChainInfo:
        return replace(super().info(), chain="toy", asset="TOY", base_unit="toy unit")


def toy_chain(name: str) -> Any:
    """The process-wide toy chain called ``name`` (a :class:`ToyChain`)."""
    if name not in FakeChain._registry:
        chain = ToyChain(name)
        chain._append_block([chain._encode({"type": "genesis", "chain": name})])
        FakeChain._registry[name] = chain
    return FakeChain._registry[name]
