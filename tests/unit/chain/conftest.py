"""Fixtures for the ETM chain tests: a small development chain on an in-memory store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from etm_bridge.chain.address import address_hash
from etm_bridge.chain.genesis import GenesisConfig, dev_genesis
from etm_bridge.chain.keys import SigningKey, dev_key
from etm_bridge.chain.ledger import Chain
from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.tx import Tx
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.store import ChainStore

FEE = 100_000


@dataclass
class DevChain:
    chain: Chain
    cfg: GenesisConfig
    keys: dict[bytes, SigningKey]
    users: list[SigningKey]
    now: int = 0
    nonces: dict[bytes, int] = field(default_factory=dict)

    @property
    def params(self) -> ChainParams:
        return self.cfg.params

    def tx(self, key: SigningKey, type_id: int, payload: bytes, **kw: Any) -> Tx:
        nonce = kw.pop("nonce", None)
        if nonce is None:
            nonce = self.nonces.get(key.public_key, 0)
            self.nonces[key.public_key] = nonce + 1
        return Tx.create(
            key,
            network=kw.pop("network", self.params.network_id),
            type_id=type_id,
            nonce=nonce,
            fee=kw.pop("fee", FEE),
            payload=payload,
        )

    def transfer(self, sender: SigningKey, recipient: bytes, amount: int, **kw: Any) -> Tx:
        return self.tx(sender, TRANSFER, TransferPayload(recipient, amount).encode(), **kw)

    def forge(self, keys: dict[bytes, SigningKey] | None = None) -> Any:
        """Advance the clock slot by slot until a block is forged; returns it."""
        for _ in range(1000):
            self.now += self.params.block_time_s
            block = self.chain.forge_next(self.now, self.keys if keys is None else keys)
            if block is not None:
                return block
        raise AssertionError("no block forged in 1000 slots")


@pytest.fixture
def make_dev_chain() -> Callable[..., DevChain]:
    def make(n_delegates: int = 4, per_round: int = 3, **overrides: Any) -> DevChain:
        params = ChainParams(block_time_s=1, delegates_per_round=per_round, **overrides)
        cfg, keys = dev_genesis(params, n_delegates, funded=5)
        chain = Chain(ChainStore.memory(), cfg)
        return DevChain(chain, cfg, keys, [dev_key(f"user-{i}") for i in range(5)])

    return make


@pytest.fixture
def dev(make_dev_chain: Callable[..., DevChain]) -> DevChain:
    return make_dev_chain()


def addr(key: SigningKey) -> bytes:
    return address_hash(key.public_key)
