"""Relay networks beyond regtest (issue 11, item 13): testnet4 with BIP94, the built-in mainnet
checkpoint checked against the real header vectors, and signet refused with its reason."""

from __future__ import annotations

from dataclasses import replace

import pytest
from spv_testkit import EASY_BITS, EASY_TESTNET_LIKE, mine_chain, mine_header

from etm_bridge.chains.bitcoin.spv import checkpoints as cps
from etm_bridge.chains.bitcoin.spv import headers as bh
from etm_bridge.chains.bitcoin.spv.header_relay import BitcoinRelay, Checkpoint
from etm_bridge.chains.bitcoin.spv.params import MAINNET, TESTNET4, params_for
from etm_bridge.errors import ConfigError, HeaderRejectedError
from etm_bridge.spv.kvstore import MemoryKeyValueStore

NOW = 2_000_000_000
T0 = 1_700_000_000
#: Regtest's easy powLimit with testnet4's rules (min-difficulty blocks + BIP94).
EASY_TESTNET4_LIKE = replace(EASY_TESTNET_LIKE, name="easy-testnet4", enforce_bip94=True)


def test_testnet4_genesis_is_the_one_core_hard_codes_and_meets_its_proof_of_work() -> None:
    header = bh.BlockHeader.from_bytes(TESTNET4.genesis_header)
    assert header.hash_hex == "00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043"
    assert header.merkle_root_hex == (
        "7aa0a7ae1e223414cb807e40cd57e667b718e42aaf9306db9102fe28912b7b4e"
    )
    assert (header.time, header.bits, header.nonce) == (1714777860, 0x1D00FFFF, 393743547)
    bh.check_proof_of_work(header.hash_le, header.bits, TESTNET4.pow_limit)
    assert params_for("testnet4") is TESTNET4 and TESTNET4.enforce_bip94
    assert cps.default_checkpoint("testnet4") == Checkpoint.genesis(TESTNET4)


def test_signet_is_refused_with_the_reason() -> None:
    with pytest.raises(ConfigError, match="signature") as exc:
        params_for("signet")
    assert "testnet4" in str(exc.value)
    with pytest.raises(ConfigError, match="not supported"):
        cps.default_checkpoint("signet")


def test_the_mainnet_checkpoint_is_the_real_period_start_826560(vectors) -> None:
    headers = vectors.headers("mainnet_headers_822528_826560.hex")
    first = 822_528
    checkpoint = cps.default_checkpoint("mainnet")
    assert checkpoint.height == 826_560 and checkpoint.height % 2016 == 0
    assert checkpoint.header == headers[826_560 - first]
    assert bh.dsha256(checkpoint.header)[::-1].hex() == cps.MAINNET_826560_HASH
    times = tuple(bh.BlockHeader.from_bytes(h).time for h in headers[826_550 - first : -1])
    assert checkpoint.ancestor_times == times == cps.MAINNET_826560_ANCESTOR_TIMES
    relay = BitcoinRelay.initialise(MemoryKeyValueStore(), MAINNET, checkpoint)
    assert relay.tip().height == 826_560  # its proof of work checked at initialisation


def test_the_mainnet_checkpoints_successor_rules_are_exact_from_the_first_header(vectors) -> None:
    """The relay validates the real 826560 retarget from the previous period's start, with the
    same rules; from the checkpoint on, the ten ancestor times make median time past exact."""
    headers = vectors.headers("mainnet_headers_822528_826560.hex")
    start = Checkpoint(824_544, headers[824_544 - 822_528], 1)
    relay = BitcoinRelay.initialise(MemoryKeyValueStore(), MAINNET, start)
    relay.submit_headers(headers[824_544 - 822_528 + 1 :], NOW)
    assert relay.tip().hash_le == bh.dsha256(cps.default_checkpoint("mainnet").header)


def _period_ending_in_a_min_difficulty_block(params) -> tuple[BitcoinRelay, bytes, int, int]:
    """Blocks 1..2014 five minutes apart, block 2015 a min-difficulty block (> 20 min late)."""
    limit_bits = bh.encode_compact(params.pow_limit)
    genesis = mine_header(b"\0" * 32, T0)
    relay = BitcoinRelay.initialise(MemoryKeyValueStore(), params, Checkpoint(0, genesis, 1))
    body = mine_chain(bh.dsha256(genesis), T0 + 300, 2014, spacing_s=300)
    last_time = T0 + 300 * 2014 + 1_500
    last = mine_header(bh.dsha256(body[-1]), last_time, limit_bits)
    relay.submit_headers([*body, last], NOW)
    assert relay.tip().height == 2015
    return relay, bh.dsha256(last), last_time, limit_bits


def test_bip94_retargets_from_the_periods_first_block() -> None:
    """Testnet3's rule starts the retarget from the *last* block's target, which a
    min-difficulty block makes the easiest there is; BIP94 starts from the first block's."""
    relay, tip, last_time, limit_bits = _period_ending_in_a_min_difficulty_block(EASY_TESTNET4_LIKE)
    bip94 = bh.calculate_next_work_required(
        EASY_TESTNET4_LIKE, limit_bits, last_time, T0, first_bits=EASY_BITS
    )
    testnet3 = bh.calculate_next_work_required(EASY_TESTNET_LIKE, limit_bits, last_time, T0)
    assert bh.decode_compact(bip94)[0] < bh.decode_compact(testnet3)[0]  # harder
    with pytest.raises(HeaderRejectedError) as exc:
        relay.submit_headers([mine_header(tip, last_time + 300, testnet3)], NOW)
    assert exc.value.reason == "bad-diffbits"
    relay.submit_headers([mine_header(tip, last_time + 300, bip94)], NOW)
    assert relay.tip().height == 2016


def test_bip94_refuses_a_timewarped_period_start_that_testnet3_accepts() -> None:
    for params, accepted in ((EASY_TESTNET_LIKE, True), (EASY_TESTNET4_LIKE, False)):
        relay, tip, last_time, limit_bits = _period_ending_in_a_min_difficulty_block(params)
        bits = bh.calculate_next_work_required(params, limit_bits, last_time, T0, EASY_BITS)
        warped = mine_header(tip, last_time - 601, bits)  # above median time past, but warped
        edge = mine_header(tip, last_time - 600, bits)
        if accepted:
            relay.submit_headers([warped], NOW)
            continue
        with pytest.raises(HeaderRejectedError) as exc:
            relay.submit_headers([warped], NOW)
        assert exc.value.reason == "time-timewarp-attack"
        relay.submit_headers([edge], NOW)
        assert relay.tip().height == 2016
