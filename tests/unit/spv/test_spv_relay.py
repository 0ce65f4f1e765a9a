"""The header-tree relay on real mainnet/testnet runs and on synthetic chains for each rule."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from spv_testkit import EASY_BITS, EASY_MAINNET_LIKE, EASY_TESTNET_LIKE, mine_chain, mine_header

from etm_bridge.chains.bitcoin.spv import headers as bh
from etm_bridge.chains.bitcoin.spv.header_relay import BitcoinRelay, Checkpoint
from etm_bridge.chains.bitcoin.spv.params import MAINNET, REGTEST, TESTNET3, BitcoinParams
from etm_bridge.errors import ConfigError, HeaderRejectedError
from etm_bridge.spv.kvstore import MemoryKeyValueStore, PrefixedStore

NOW = 2_000_000_000
T0 = 1_700_000_000


def _relay(params: BitcoinParams, checkpoint: Checkpoint | None = None) -> BitcoinRelay:
    return BitcoinRelay.initialise(
        MemoryKeyValueStore(), params, checkpoint or Checkpoint.genesis(params)
    )


def _rejection(relay: BitcoinRelay, headers: list[bytes], now: int = NOW) -> str:
    tip_before = relay.tip()
    with pytest.raises(HeaderRejectedError) as info:
        relay.submit_headers(headers, now)
    assert relay.tip() == tip_before
    return info.value.reason


@pytest.fixture(scope="module")
def mainnet_early(vectors) -> tuple[BitcoinRelay, list[bytes]]:
    headers = vectors.headers("mainnet_headers_0_4032.hex")
    relay = _relay(MAINNET)
    relay.submit_headers(headers[1:], NOW)
    return relay, headers


def test_mainnet_0_to_4032_validates_across_two_clamped_retargets(mainnet_early) -> None:
    relay, headers = mainnet_early
    tip = relay.tip()
    assert tip.height == 4032
    assert tip.hash_hex == "00000000ca4b69045a03d7b20624def97a5366418648d5005e82fd3b345d20d0"
    assert tip.chain_work == 4033 * bh.work_from_bits(0x1D00FFFF)
    assert relay.best_hash_at(2016) == bh.dsha256(headers[2016])
    assert relay.confirmations(bh.dsha256(headers[4026])) == 7


def test_mainnet_822528_to_826560_validates_two_real_retargets(vectors) -> None:
    headers = vectors.headers("mainnet_headers_822528_826560.hex")
    first = bh.BlockHeader.from_bytes(headers[0])
    relay = _relay(MAINNET, Checkpoint(822528, headers[0], bh.work_from_bits(first.bits)))
    result = relay.submit_headers(headers[1:], NOW)
    assert result.tip.height == 826560 and not result.reorg
    assert result.tip.hash_hex.endswith("2a693cd1")
    assert bh.BlockHeader.from_bytes(headers[-1]).bits == 0x1704005A


def test_every_byte_flip_of_real_headers_is_rejected_as_high_hash(mainnet_early) -> None:
    relay, headers = mainnet_early
    rng = random.Random(5)
    # all 80 positions of headers around a retarget, then sampled positions of many headers
    targets = [(h, pos) for h in (2015, 2016, 4032) for pos in range(80)]
    targets += [(rng.randrange(1, len(headers)), rng.randrange(80)) for _ in range(400)]
    for height, pos in targets:
        raw = bytearray(headers[height])
        raw[pos] ^= 1 << rng.randrange(8)
        assert _rejection(relay, [bytes(raw)]) == "high-hash", (height, pos)


def test_real_header_with_a_wrong_nbits_is_rejected(mainnet_early) -> None:
    relay, headers = mainnet_early
    raw = bytearray(headers[4032])
    raw[72:76] = (0x1C00FFFF).to_bytes(4, "little")  # harder than required: hash misses it
    assert _rejection(relay, [bytes(raw)]) == "high-hash"


def test_testnet3_real_headers_and_their_forks(vectors) -> None:
    lines = vectors.text("bitcoin/testnet3_blockheader.hex").split()
    main = [bytes.fromhex(x) for x in lines if not x.startswith("fork:")]
    forks = [bytes.fromhex(x[5:]) for x in lines if x.startswith("fork:")]
    relay = _relay(TESTNET3)
    relay.submit_headers(main[1:], NOW)
    assert relay.tip().height == 546
    result = relay.submit_headers(forks, NOW)
    assert result.tip.height == 546 and not result.reorg
    assert len(relay.chain_tips()) == 2
    assert all(relay.confirmations(bh.dsha256(f)) == 0 for f in forks)


def test_retarget_requires_the_computed_bits(vectors) -> None:
    params = EASY_MAINNET_LIKE
    checkpoint_header = mine_header(b"\0" * 32, T0)
    relay = _relay(params, Checkpoint(0, checkpoint_header, 1))
    period = mine_chain(bh.dsha256(checkpoint_header), T0 + 600, 2015, spacing_s=300)
    relay.submit_headers(period, NOW)
    last = bh.BlockHeader.from_bytes(period[-1])
    required = bh.calculate_next_work_required(params, EASY_BITS, last.time, T0)
    assert required != EASY_BITS
    stale = mine_header(last.hash_le, last.time + 300, EASY_BITS)
    assert _rejection(relay, [stale]) == "bad-diffbits"
    relay.submit_headers([mine_header(last.hash_le, last.time + 300, required)], NOW)
    assert relay.tip().height == 2016


def test_testnet_min_difficulty_rule_and_walk_back() -> None:
    params = EASY_TESTNET_LIKE
    limit_bits = bh.encode_compact(params.pow_limit)
    cp = mine_header(b"\0" * 32, T0)
    relay = _relay(params, Checkpoint(0, cp, 1))
    one = mine_header(bh.dsha256(cp), T0 + 600)
    late = mine_header(bh.dsha256(one), T0 + 600 + 1201, limit_bits)  # > 20 min: limit ok
    relay.submit_headers([one, late], NOW)
    on_time_easy = mine_header(bh.dsha256(late), T0 + 600 + 1300, limit_bits)
    assert _rejection(relay, [on_time_easy]) == "bad-diffbits"  # walk back to EASY_BITS
    relay.submit_headers([mine_header(bh.dsha256(late), T0 + 600 + 1300, EASY_BITS)], NOW)
    not_late = mine_header(bh.dsha256(one), T0 + 600 + 1200, limit_bits)  # exactly 20 min
    assert _rejection(relay, [not_late]) == "bad-diffbits"


def test_contextual_rules_name_their_reason() -> None:
    relay = _relay(REGTEST)
    genesis = bh.dsha256(REGTEST.genesis_header)
    chain = mine_chain(genesis, T0, 12, bits=0x207FFFFF)
    relay.submit_headers(chain, NOW)
    tip = bh.dsha256(chain[-1])
    mtp = sorted(T0 + 600 * i for i in range(1, 12))[5]
    assert _rejection(relay, [mine_header(b"\x42" * 32, T0, 0x207FFFFF)]) == "bad-prevblk"
    assert _rejection(relay, [chain[3]]) == "duplicate"
    assert _rejection(relay, [chain[3][:79]]) == "bad-header-length"
    assert _rejection(relay, [mine_header(tip, mtp, 0x207FFFFF)]) == "time-too-old"
    relay.submit_headers([mine_header(tip, mtp + 1, 0x207FFFFF)], NOW)
    too_new = mine_header(bh.dsha256(chain[-1]), NOW + 7201, 0x207FFFFF)
    assert _rejection(relay, [too_new], now=NOW) == "time-too-new"
    old_version = mine_header(tip, T0 + 10_000, 0x207FFFFF, version=1)
    assert _rejection(relay, [old_version]) == "bad-version"
    wrong_bits = mine_header(tip, T0 + 10_000, 0x2007FFFF)
    assert _rejection(relay, [wrong_bits]) == "bad-diffbits"


def test_a_batch_is_all_or_nothing_and_names_the_failing_index() -> None:
    relay = _relay(REGTEST)
    chain = mine_chain(bh.dsha256(REGTEST.genesis_header), T0, 3, bits=0x207FFFFF)
    bad = mine_header(b"\x42" * 32, T0, 0x207FFFFF)
    with pytest.raises(HeaderRejectedError, match="header 3"):
        relay.submit_headers([*chain, bad], NOW)
    assert relay.tip().height == 0
    assert relay.get(bh.dsha256(chain[0])) is None


def test_forks_are_kept_and_more_work_reorgs_the_tip() -> None:
    relay = _relay(REGTEST)
    genesis = bh.dsha256(REGTEST.genesis_header)
    main = mine_chain(genesis, T0, 5, bits=0x207FFFFF)
    relay.submit_headers(main, NOW)
    side = mine_chain(bh.dsha256(main[1]), T0 + 1_000_000, 3, bits=0x207FFFFF)
    result = relay.submit_headers(side[:3], NOW)  # height 5, equal work: first seen stays
    assert not result.reorg and result.tip.hash_le == bh.dsha256(main[-1])
    longer = mine_header(bh.dsha256(side[-1]), T0 + 2_000_000, 0x207FFFFF)
    result = relay.submit_headers([longer], NOW)
    assert result.reorg and result.tip.height == 6
    assert relay.confirmations(bh.dsha256(main[2])) == 0
    assert relay.confirmations(bh.dsha256(side[0])) == 4
    assert relay.best_hash_at(2) == bh.dsha256(main[1]) and relay.best_hash_at(3) == bh.dsha256(
        side[0]
    )
    assert [t.height for t in relay.chain_tips()] == [6, 5]


def test_reorg_inside_one_batch_and_back() -> None:
    relay = _relay(REGTEST)
    genesis = bh.dsha256(REGTEST.genesis_header)
    a = mine_chain(genesis, T0, 3, bits=0x207FFFFF)
    b = mine_chain(genesis, T0 + 50_000, 4, bits=0x207FFFFF)
    relay.submit_headers([*a, *b], NOW)
    assert relay.tip().hash_le == bh.dsha256(b[-1])
    assert [relay.best_hash_at(h) for h in range(1, 5)] == [bh.dsha256(x) for x in b]
    more_a = mine_chain(bh.dsha256(a[-1]), T0 + 90_000, 2, bits=0x207FFFFF)
    assert relay.submit_headers(more_a, NOW).reorg
    assert relay.best_hash_at(1) == bh.dsha256(a[0])


def test_checkpoint_rules_and_shared_backend() -> None:
    headers_store = MemoryKeyValueStore()
    with pytest.raises(ConfigError, match="multiple of 2016"):
        BitcoinRelay.initialise(headers_store, MAINNET, Checkpoint(5, MAINNET.genesis_header, 1))
    with pytest.raises(ConfigError, match="not initialised"):
        BitcoinRelay(headers_store, MAINNET)
    a = BitcoinRelay.initialise(
        PrefixedStore(headers_store, b"a/"), REGTEST, Checkpoint.genesis(REGTEST)
    )
    b = BitcoinRelay.initialise(
        PrefixedStore(headers_store, b"b/"), MAINNET, Checkpoint.genesis(MAINNET)
    )
    assert BitcoinRelay.initialise(a.store, REGTEST, Checkpoint.genesis(REGTEST)).tip() == a.tip()
    with pytest.raises(ConfigError, match="another checkpoint"):
        BitcoinRelay.initialise(a.store, REGTEST, Checkpoint.genesis(MAINNET))
    assert a.tip().hash_le != b.tip().hash_le


def test_checkpoint_ancestor_times_make_mtp_exact() -> None:
    cp = mine_header(b"\0" * 32, T0 + 10_000, 0x207FFFFF)
    times = tuple(T0 + 20_000 + i for i in range(10))  # later than the checkpoint itself
    relay = _relay(REGTEST, Checkpoint(0, cp, 2, ancestor_times=times))
    child = mine_header(bh.dsha256(cp), T0 + 20_004, 0x207FFFFF)
    assert _rejection(relay, [child]) == "time-too-old"
    relay.submit_headers([mine_header(bh.dsha256(cp), T0 + 20_006, 0x207FFFFF)], NOW)


def test_real_headers_right_after_a_checkpoint_without_ancestor_times_are_accepted(
    vectors,
) -> None:
    """Mainnet timestamps go backwards often; with fewer than 11 known ancestors the exact
    median of the known ones would reject real blocks (e.g. the 2nd header after 2296 or
    822785). Every start height of both real runs is tried (mainnet rules without retargets,
    so a checkpoint may sit anywhere inside a period), 11 headers each."""
    within_period = replace(MAINNET, no_retargeting=True)
    runs = (("mainnet_headers_0_4032.hex", 0), ("mainnet_headers_822528_826560.hex", 822528))
    for name, first in runs:
        headers = vectors.headers(name)
        for start in range(0, len(headers) - 11):
            if (first + start) // 2016 != (first + start + 11) // 2016:
                continue  # a retarget inside the window needs a period-start checkpoint
            cp = bh.BlockHeader.from_bytes(headers[start])
            relay = _relay(within_period, Checkpoint(first + start, headers[start], 1 << 32))
            relay.submit_headers(headers[start + 1 : start + 12], NOW)
            assert relay.tip().height == first + start + 11, cp.hash_hex


def test_mtp_bound_with_missing_ancestors_still_rejects_what_core_rejects() -> None:
    assert bh.median_time_past_bound([1, 2, 3], 3) == 2  # all known: Core's median
    assert bh.median_time_past_bound([50, 10, 40, 30, 20, 60], 11) == 10  # 5 missing
    assert bh.median_time_past_bound([50, 10, 40, 30, 20], 11) is None  # 6 missing: no bound
    base = T0
    cp = mine_header(b"\0" * 32, base, 0x207FFFFF)
    relay = _relay(REGTEST, Checkpoint(1000, cp, 2))
    chain = mine_chain(bh.dsha256(cp), base + 600, 6, bits=0x207FFFFF)
    relay.submit_headers(chain, NOW)
    # 7 known times (cp .. +3600): whatever the 4 missing were, the median is >= the 2nd
    # smallest known (base + 600), so a child at base + 600 is too old ...
    assert _rejection(relay, [mine_header(bh.dsha256(chain[-1]), base + 600, 0x207FFFFF)]) == (
        "time-too-old"
    )
    # ... and one at base + 601 may be valid (the real median could be that low): accepted.
    relay.submit_headers([mine_header(bh.dsha256(chain[-1]), base + 601, 0x207FFFFF)], NOW)


def test_mid_period_checkpoint_validates_to_the_retarget_and_names_why_it_stops(vectors) -> None:
    headers = vectors.headers("mainnet_headers_822528_826560.hex")
    start = 824000 - 822528  # inside the period 822528..824543
    checkpoint = Checkpoint(824000, headers[start], 1 << 32)
    with pytest.raises(ConfigError, match="multiple of 2016"):
        _relay(MAINNET, checkpoint)  # a chain's relay must start at a period start
    relay = BitcoinRelay.initialise(MemoryKeyValueStore(), MAINNET, checkpoint, mid_period=True)
    relay.submit_headers(headers[start + 1 : 824544 - 822528], NOW)
    assert relay.tip().height == 824543
    assert _rejection(relay, [headers[824544 - 822528]]) == "retarget-before-checkpoint"


def test_testnet_mid_period_checkpoint_at_minimum_difficulty_is_refused(vectors) -> None:
    lines = vectors.text("bitcoin/testnet3_blockheader.hex").split()
    header = bytes.fromhex(lines[5])  # bits 1d00ffff = testnet3's powLimit
    with pytest.raises(ConfigError, match="minimum-difficulty"):
        BitcoinRelay.initialise(
            MemoryKeyValueStore(), TESTNET3, Checkpoint(5, header, 1 << 32), mid_period=True
        )
