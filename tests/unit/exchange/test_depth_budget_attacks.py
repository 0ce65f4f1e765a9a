"""Review a11b of issue 11, attack 5: the value-scaled depth's loss budget counted per proof.

Whitepaper 3.1's depth keeps the expected loss ``P(q, z) * amount`` within the relay's loss
budget. Counted per proof, an attacker dodges it by splitting: ten 1 BTC locks (or deposits) in
one Bitcoin block each need mainnet's 6 confirmations, while the same 10 BTC as one lock needs
8. One reorganisation of that block reverses all ten: at q = 10 % and 6 confirmations the
expected loss is 10 BTC * 5.9e-4 = 0.0059 BTC, six times the 0.001 BTC budget (100 BTC split:
59 times). Now the budget counts everything proven from one block: a proof needs the depth of
the block's proven total including itself.

Real Bitcoin header relay, real :class:`~etm_bridge.chains.bitcoin.etm.verifier.BtcVerifier`, real
Merkle branches (one block holding many transactions), the exchange tx types.
"""

from __future__ import annotations

import struct

from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint, CScript
from bitcoin.core.script import OP_RETURN
from test_timing_attacks import Chain, lock_tx, rejected, world
from test_txtypes import bind, btc_key

from etm_bridge.chain.params import ETM_EPOCH_UNIX
from etm_bridge.chains.bitcoin.etm import verifier as bp
from etm_bridge.chains.bitcoin.spv.headers import dsha256
from etm_bridge.chains.bitcoin.spv.inclusion import BitcoinTxProof
from etm_bridge.chains.bitcoin.spv.merkle import merkle_levels
from etm_bridge.chains.bitcoin.spv.params import REGTEST
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import txtypes as tt
from etm_bridge.exchange.reasons import Reason
from etm_bridge.hashlock import hashlock_of
from etm_bridge.spv.relay_policy import RelayPolicy

BTC = 10**8
#: Bitcoin mainnet's default policy: floor 6, q = 10 %, at most 0.001 BTC expected loss.
MAINNET_LIKE = RelayPolicy(6, 7_200, "0.1", 100_000)


def mine_block_of(btc: Chain, txs: list[bytes]) -> tuple[int, list[bytes]]:
    """One block on the tip holding ``txs`` after its coinbase; its height and txids."""
    height = btc.mine()  # a block with the right time and parent; its header is redone here
    coinbase = CMutableTransaction(
        [CMutableTxIn(COutPoint(), CScript([height, b"many"]))],
        [CMutableTxOut(50 * BTC, CScript([OP_RETURN]))],
    ).serialize()
    txids = [dsha256(t) for t in (coinbase, *txs)]
    root = merkle_levels(txids)[-1][0]
    prev = dsha256(btc.headers[height - 1])
    for nonce in range(1_000):
        header = struct.pack("<i32s32sIII", 0x20000000, prev, root, btc.time_of(height),
                             0x207FFFFF, nonce)  # fmt: skip
        if int.from_bytes(dsha256(header), "little") <= REGTEST.pow_limit >> 1:
            break
    btc.headers[height] = header
    btc.txids[height] = txids
    return height, txids


def branch(txids: list[bytes], index: int) -> tuple[bytes, ...]:
    levels, out, pos = merkle_levels(txids), [], index
    for level in levels[:-1]:
        sibling = pos ^ 1 if pos ^ 1 < len(level) else pos
        out.append(level[sibling])
        pos >>= 1
    return tuple(out)


def proof_of(btc: Chain, height: int, txids: list[bytes], index: int, raw: bytes,
             vout: int = 0, script: bytes = b"") -> bytes:  # fmt: skip
    block = dsha256(btc.headers[height])
    tx_proof = BitcoinTxProof(raw, block, index, len(txids), branch(txids, index))
    return bp.BtcProof(tx_proof, vout, script).encode()


def bury(btc: Chain, height: int, confirmations: int) -> None:
    while btc.height < height + confirmations - 1:
        btc.mine()
    btc.relay_to(btc.height)


def test_ten_1_btc_locks_in_one_block_need_the_depth_of_10_btc() -> None:
    """The attacker locks 10 x 1 BTC to the pool in one block and proves each at mainnet's
    floor of 6: each alone is within the budget at 6, so before the fix all ten were accepted
    (10 BTC at 6 confirmations). Now the second proof from that block already needs the depth
    of 2 BTC (7), and the tenth that of 10 BTC (8), the depth one 10 BTC lock needs."""
    btc, led = world(MAINNET_LIKE)
    timelock = btc.height + 1 + 72
    secrets = [bytes([0x70 + i]) * 32 for i in range(10)]
    scripts = [bp.htlc_witness_script(hashlock_of(s), btc_key("operator"), btc_key("alice"),
                                      timelock) for s in secrets]  # fmt: skip
    raws = [lock_tx(BTC, script) for script in scripts]
    height, txids = mine_block_of(btc, raws)

    def prove(i: int) -> None:
        proof = proof_of(btc, height, txids, 1 + i, raws[i], script=scripts[i])
        swap = pl.SwapIn("btc", led.address("alice"), BTC, hashlock_of(secrets[i]), 1, proof)
        led.send("alice", tt.SWAP_IN, swap)

    bury(btc, height, 6)
    led.time = btc.time_of(btc.height) - ETM_EPOCH_UNIX
    assert [MAINNET_LIKE.required_depth(n * BTC) for n in (1, 2, 10)] == [6, 7, 8]
    prove(0)  # 1 BTC from this block: 6 confirmations are enough
    rejected(Reason.NOT_ENOUGH_CONFIRMATIONS, lambda: prove(1))  # 2 BTC: 7
    bury(btc, height, 7)
    led.time = btc.time_of(btc.height) - ETM_EPOCH_UNIX
    for i in range(1, 5):  # 2..5 BTC: 7 (P(7) * 5 BTC = 0.000993 BTC)
        prove(i)
    rejected(Reason.NOT_ENOUGH_CONFIRMATIONS, lambda: prove(5))  # 6 BTC: 8
    bury(btc, height, 8)
    led.time = btc.time_of(btc.height) - ETM_EPOCH_UNIX
    for i in range(5, 10):
        prove(i)
    led.check_money()


def test_a_lock_in_another_block_is_not_charged_with_this_blocks_value() -> None:
    """The count is per block: a 1 BTC lock in the next block needs only its own 6."""
    btc, led = world(MAINNET_LIKE)
    timelock = btc.height + 2 + 72
    secrets = [bytes([0x90 + i]) * 32 for i in range(3)]
    scripts = [bp.htlc_witness_script(hashlock_of(s), btc_key("operator"), btc_key("alice"),
                                      timelock) for s in secrets]  # fmt: skip
    raws = [lock_tx(BTC, script) for script in scripts]
    first, first_ids = mine_block_of(btc, raws[:2])
    second, second_ids = mine_block_of(btc, raws[2:])
    bury(btc, second, 7)  # the first block has 8 now, the second 7
    led.time = btc.time_of(btc.height) - ETM_EPOCH_UNIX
    for i in range(2):
        proof = proof_of(btc, first, first_ids, 1 + i, raws[i], script=scripts[i])
        led.send("alice", tt.SWAP_IN, pl.SwapIn("btc", led.address("alice"), BTC,
                                                hashlock_of(secrets[i]), 1, proof))  # fmt: skip
    proof = proof_of(btc, second, second_ids, 1, raws[2], script=scripts[2])
    led.send("alice", tt.SWAP_IN, pl.SwapIn("btc", led.address("alice"), BTC,
                                            hashlock_of(secrets[2]), 1, proof))  # fmt: skip
    led.check_money()


def test_ten_1_btc_deposit_outputs_in_one_transaction_need_the_depth_of_10_btc() -> None:
    """Deposits are credited at once (shares the investor can withdraw as the pool's real
    asset): one transaction paying the pool ten 1 BTC outputs is ten deposits. Each is proven
    on its own; the block's total counts."""
    btc, led = world(MAINNET_LIKE)
    bind(led, "bob")
    pay = CMutableTransaction(
        [CMutableTxIn(COutPoint(b"\x44" * 32, 0))],
        [CMutableTxOut(BTC, bp.p2wpkh(btc_key("operator"))) for _ in range(10)]
        + [CMutableTxOut(0, CScript([OP_RETURN, bp.DEPOSIT_TAG + led.addr20("bob")]))],
    ).serialize()
    height, txids = mine_block_of(btc, [pay])

    def deposit(vout: int) -> None:
        proof = proof_of(btc, height, txids, 1, pay, vout=vout)
        led.send("bob", tt.LP_DEPOSIT, pl.LpDeposit("btc", 10**13, 1, proof))

    bury(btc, height, 6)
    deposit(0)
    rejected("bad_proof", lambda: deposit(1))
    bury(btc, height, 8)
    for vout in range(1, 10):
        deposit(vout)
    assert led.pool().asset_reserve >= 10 * BTC
    led.check_money()
