"""A world of two fake chains with a user and an operator, each running its own watcher."""

from __future__ import annotations

import uuid
from dataclasses import replace

from chainkit import ScanningFakeAdapter
from fakeexchange import FakeExchange

from etm_bridge.hashlock import sha256
from etm_bridge.swaps.core.fsm import Role, SwapDirection, SwapState
from etm_bridge.swaps.core.model import LegTerms, SwapRecord, SwapTerms
from etm_bridge.swaps.core.policy import PolicyConfig
from etm_bridge.swaps.runtime.store import SwapStore
from etm_bridge.swaps.runtime.watcher import Watcher, WatcherConfig
from etm_bridge.testing.fake import FakeAdapter
from etm_bridge.testing.fakechain import FakeChain, fake_pubkey
from etm_bridge.testing.preimages import new_preimage

USER_SECRET, OP_SECRET = b"user-secret-0123456789", b"operator-secret-0123456789"
USER_KEY, OP_KEY = fake_pubkey(USER_SECRET), fake_pubkey(OP_SECRET)
BTC_AMOUNT, ETM_AMOUNT = 100_000, 5_000_000
CONFIG = WatcherConfig(policy=PolicyConfig(leg_margin_s=6_000, retry_after_s=0))


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class World:
    """Two fake chains, a user and an operator each with their own adapters and database."""

    def __init__(self, tmp_path, direction: SwapDirection, scanning: bool = False) -> None:
        tag = uuid.uuid4().hex[:8]
        self.btc, self.etm = FakeChain.named(f"btc-{tag}"), FakeChain.named(f"etm-{tag}")
        self.direction, self.clock = direction, Clock()
        kind = ScanningFakeAdapter if scanning else FakeAdapter
        self.user_ad = {
            "btc": kind(self.btc, USER_SECRET),
            "etm": kind(self.etm, USER_SECRET),
        }
        self.op_ad = {
            "btc": kind(self.btc, OP_SECRET),
            "etm": kind(self.etm, OP_SECRET),
        }
        for chain in (self.btc, self.etm):
            chain.credit(USER_KEY, 10**9)
            chain.credit(OP_KEY, 10**9)
        self.mine()
        self.exchange = FakeExchange(self.op_ad["etm"], {"btc": self.op_ad["btc"]})
        self.gateway = self.exchange if direction is SwapDirection.FOREIGN_TO_ETM else None
        self.preimage = new_preimage()
        self.user_db, self.op_db = tmp_path / "user.db", tmp_path / "op.db"
        self.user = self.watcher(Role.USER)
        self.op = self.watcher(Role.OPERATOR)

    def mine(self, n: int = 1) -> None:
        self.btc.mine(n)
        self.etm.mine(n)

    def terms(self, user_blocks: int = 60, counter_blocks: int = 25) -> SwapTerms:
        btc_tip, etm_tip = self.btc.tip_height, self.etm.tip_height
        if self.direction is SwapDirection.FOREIGN_TO_ETM:
            user = LegTerms("btc", BTC_AMOUNT, OP_KEY, USER_KEY, btc_tip + user_blocks, 2)
            counter = LegTerms("etm", ETM_AMOUNT, USER_KEY, OP_KEY, 0, 1)
        else:
            user = LegTerms("etm", ETM_AMOUNT, OP_KEY, USER_KEY, etm_tip + user_blocks, 1)
            counter = LegTerms("btc", BTC_AMOUNT, USER_KEY, OP_KEY, btc_tip + counter_blocks, 1)
        now = int(self.clock())
        return SwapTerms(
            "w1", self.direction, sha256(self.preimage), user, counter, now, now + 3000, 5
        )

    def idle_operator_swaps(self, count: int) -> None:
        """``count`` operator swaps whose users never lock (deadline far away): load only."""
        base = self.terms()
        for i in range(count):
            t = replace(
                base,
                swap_id=f"idle{i}",
                hashlock=sha256(i.to_bytes(32, "big")),
                lock_deadline_s=base.created_at_s + 10**9,
            )
            self.op.store.create(SwapRecord(t, Role.OPERATOR))

    def watcher(self, role: Role, **kw) -> Watcher:
        store = SwapStore(self.user_db if role is Role.USER else self.op_db)
        adapters = self.user_ad if role is Role.USER else self.op_ad
        w = Watcher(
            store,
            adapters,
            gateway=self.gateway,
            owner=role.value,
            config=CONFIG,
            clock=self.clock,
            **kw,
        )
        return w

    def create(self, **term_kw) -> None:
        t = self.terms(**term_kw)
        self.user.store.create(SwapRecord(t, Role.USER, preimage=self.preimage))
        self.op.store.create(SwapRecord(t, Role.OPERATOR))
        self.user.start()
        self.op.start()

    def step(self, user: bool = True, op: bool = True) -> None:
        if user:
            self.user.tick()
        if op:
            self.op.tick()
        self.mine()
        self.clock.now += 600

    def examined_per_block(self, ticks: int) -> list[int]:
        """Mine a block, then tick the operator's watcher, ``ticks`` times: how many swaps each
        tick examined."""
        counts = []
        for _ in range(ticks):
            self.mine()
            self.clock.now += 600
            counts.append(self.op.tick().examined)
        return counts

    def state(self, role: Role) -> SwapState:
        w = self.user if role is Role.USER else self.op
        return w.store.get("w1").state

    def run_until(self, done, steps: int = 120, **kw) -> None:
        for _ in range(steps):
            if done():
                return
            self.step(**kw)
        raise AssertionError(
            f"not done: user {self.state(Role.USER)}, op {self.state(Role.OPERATOR)}"
        )

    def both_end(self, state: SwapState) -> bool:
        return self.state(Role.USER) is state and self.state(Role.OPERATOR) is state

    def balance(self, chain: FakeChain, key: bytes) -> int:
        return chain.balances[(key, None)]
