"""The throwaway chain's adapter plugin (entry point ``etm_bridge.adapters``:
``toy = etm_bridge_toy:ToyAdapter``): the fake adapter under the name ``toy``, over a fake chain
that mines one block for every transaction it accepts (so a test needs no miner)."""

from __future__ import annotations

from typing import Any

from etm_bridge.adapter import Capability
from etm_bridge.testing.fake import FakeAdapter
from etm_bridge.testing.fakechain import FakeChain


class ToyChain(FakeChain):
    """A fake chain that mines each accepted transaction into its own block."""

    def _submit(self, body: dict[str, Any]) -> str:
        txid = super()._submit(body)
        self.mine(1)
        return txid


class ToyAdapter(FakeAdapter):
    name = "toy"
    CAPABILITIES = frozenset(
        {Capability.INCLUSION_PROOFS, Capability.PAYMENTS, Capability.WATCH_ONLY_BALANCE}
    )


def toy_chain(name: str) -> FakeChain:
    """The process-wide toy chain called ``name`` (a :class:`ToyChain`)."""
    if name not in FakeChain._registry:
        chain = ToyChain(name)
        chain._append_block([chain._encode({"type": "genesis", "chain": name})])
        FakeChain._registry[name] = chain
    return FakeChain._registry[name]
