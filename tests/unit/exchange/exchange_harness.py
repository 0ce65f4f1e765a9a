"""A minimal ETM state with the exchange's transaction types, for the exchange's tests.

``Ledger.send`` runs a tx the way the chain does after its own checks (fee, nonce, signature):
the type's ``check`` on the view, then ``apply``, inside a savepoint that a rejection rolls
back. ``send_verified`` does the same for the three proof-carrying types with the record SPV
verification would produce (the planners' documented input). Without a verifier the ledger's
:class:`RecordedRelays` answers the depth of proven blocks (``depths``, default deep enough) and
lets pools exist, but verifies no proof bytes (those go through ``send_verified``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from etm_bridge.chain.address import address_hash, encode_address
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.registry import Registry, TxContext
from etm_bridge.chain.state import EmptyBackend, State
from etm_bridge.chain.tx import Tx
from etm_bridge.exchange import htlc as hx
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import plans
from etm_bridge.exchange import records as rc
from etm_bridge.exchange import txtypes as tt

SUPPLY = 10**15


class RecordedRelays(tt.UnavailableVerifier):
    """Proof records come from ``send_verified``; this only answers what the chain's relays
    would say of a recorded block's depth now (``depths[block]``, else ``default_depth``)."""

    def __init__(self, default_depth: int = 100) -> None:
        self.depths: dict[bytes, int] = {}
        self.default_depth = default_depth

    def confirmations(self, view: Any, pool: Any, block_hash: bytes) -> int:
        return self.depths.get(block_hash, self.default_depth)


class Ledger:
    def __init__(
        self,
        people: tuple[str, ...] = ("operator", "alice", "bob", "carol"),
        verifier: tt.ForeignVerifier | None = None,
    ) -> None:
        self.params = ChainParams()
        self.registry = Registry()
        self.relays = RecordedRelays()
        tt.register(self.registry, verifier or tt.ChainVerifiers(
            {"btc": self.relays, "eth": self.relays}
        ))  # fmt: skip
        self.state = State(EmptyBackend(), self.registry.table_names)
        self.height = 1
        self.time = 0  # the block timestamp (ETM epoch)
        self.nonces: dict[str, int] = {}
        for who in people:
            self.state.mint(self.addr20(who), SUPPLY // len(people))

    # --- identities -----------------------------------------------------------------------------

    @staticmethod
    def addr20(who: str) -> bytes:
        return address_hash(dev_key(who).public_key)

    def address(self, who: str) -> str:
        return encode_address(self.addr20(who))

    def balance(self, who: str) -> int:
        return self.state.account(self.addr20(who)).balance

    def ctx(self) -> TxContext:
        return TxContext(self.params, self.height, self.time, bytes(32))

    # --- sending --------------------------------------------------------------------------------

    def make_tx(self, who: str, type_id: int, payload: Any) -> Tx:
        nonce = self.nonces.get(who, 0)
        self.nonces[who] = nonce + 1
        return Tx.create(
            dev_key(who),
            network=self.params.network_id,
            type_id=type_id,
            nonce=nonce,
            fee=0,
            payload=pl.encode_payload(payload),
        )

    def _atomic(self, run: Callable[[], None]) -> None:
        self.state.savepoint()
        try:
            run()
        except Exception:
            self.state.rollback()
            raise
        self.state.release()

    def send(self, who: str, type_id: int, payload: Any) -> Tx:
        tx = self.make_tx(who, type_id, payload)
        tx_type = self.registry.type_of(type_id)
        decoded = tx_type.decode(tx.payload)

        def run() -> None:
            tx_type.check(self.state, tx, decoded, self.ctx())
            tx_type.apply(self.state, tx, decoded, self.ctx())

        self._atomic(run)
        return tx

    def send_verified(
        self,
        who: str,
        type_id: int,
        payload: Any,
        planner: Callable[..., plans.TxPlan],
        record: Any,
    ) -> Tx:
        tx = self.make_tx(who, type_id, payload)

        def run() -> None:
            plan = planner(self.state, tx, payload, self.ctx(), record)
            plan.check_balances(self.state)
            plan.commit(self.state)

        self._atomic(run)
        return tx

    # --- views ----------------------------------------------------------------------------------

    def pool(self, asset: str = "btc") -> Any:
        return plans.get_pool(self.state, asset)

    def htlc(self, htlc_id: bytes) -> hx.Htlc:
        return plans.get_htlc(self.state, htlc_id)

    def shares(self, who: str, asset: str = "btc") -> int:
        return plans.get_shares(self.state, asset, self.addr20(who))

    def check_money(self) -> None:
        """Supply conserved, and the escrow holds exactly the pools' ETM plus user HTLCs plus
        the bonds of the intents not yet swept (issue 15)."""
        balances = sum(
            self.state.account(a).balance
            for a in {self.addr20(w) for w in ("operator", "alice", "bob", "carol")}
        )
        escrow = self.state.escrow_total(rc.ESCROW)
        assert balances + escrow == self.state.supply() == SUPPLY
        pools = sum(
            plans.get_pool(self.state, k.decode()).etm_reserve for k, _ in self.state.scan(rc.POOLS)
        )
        locked = 0
        for key, _ in self.state.scan(rc.HTLCS):
            h = plans.get_htlc(self.state, key)
            if h.status is hx.HtlcStatus.LOCKED and not h.sender.startswith("pool:"):
                locked += h.amount
        bonds = sum(
            rc.decode(rc.SwapIntent, self.state.get_json(rc.INTENTS, k)).bond
            for k, _ in self.state.scan(rc.INTENTS)
        )
        assert escrow == pools + locked + bonds
