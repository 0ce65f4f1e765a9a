"""Review a11b of issue 11, attack 2: Bitcoin timestamp games against the time left on a lock.

Header timestamps are not fixed by proof of work alone: the miner of a block chooses its time,
anywhere above the median of the previous 11 and up to 2 h ahead of the nodes' clocks (the
relay's reference is the ETM block time). A miner who also makes the lock can stamp the lock's
block 2 h ahead: the lock looks 2 h younger (the age bound) and, kept as the relay's tip, the
relay stays fresh 2 h longer (the tip bound). Both estimates then read 2 h too much, never
more, so the ETM leg still ends 4 h (of the 6 h margin) before the nominal Bitcoin refund. This
test keeps that bound: a change that let a future stamp buy more would fail it.
"""

from __future__ import annotations

import pytest
from test_timing_attacks import alice_lock, prove, world

from etm_bridge.chain.params import ETM_EPOCH_UNIX
from etm_bridge.chains.bitcoin.spv.headers import MAX_FUTURE_BLOCK_TIME_S, dsha256
from etm_bridge.exchange import swap_plans
from etm_bridge.exchange.swap_rules import MARGIN_S

STAMP_AHEAD_S = MAX_FUTURE_BLOCK_TIME_S  # the most any node accepts


@pytest.mark.parametrize("after_s", [60, 3600, 3 * 3600, 2 * STAMP_AHEAD_S - 1])
def test_a_lock_block_stamped_2_h_ahead_buys_at_most_2_h_of_the_margin(after_s: int) -> None:
    """Proven ``after_s`` after the lock's block was really mined (up to the last second the
    relay, stuck at that block, is fresh)."""
    btc, led = world()
    real_s = btc.time_of(btc.height) + 600  # when the lock's block is really mined
    lock_h, raw, script = alice_lock(btc)  # refundable after 72 more blocks
    btc.mine(parent=lock_h - 1, txs=(raw,), spacing_s=600 + STAMP_AHEAD_S)  # the miner's stamp
    assert btc.time_of(lock_h) == real_s + STAMP_AHEAD_S
    btc.relay_to(lock_h)  # the relay's tip is the lock's block, and the attacker keeps it there
    led.time = real_s + after_s - ETM_EPOCH_UNIX
    prove(led, btc.proof(lock_h, raw, script))
    htlc = led.htlc(swap_plans.swap_in_htlc_id("btc", dsha256(raw) + bytes(4)))
    refund_s = real_s + 72 * 600  # nominal: 72 blocks after the lock's real time
    assert ETM_EPOCH_UNIX + htlc.deadline_s <= refund_s - (MARGIN_S - STAMP_AHEAD_S)
