"""The Handshake relay on real mainnet headers (136000..136149, from hnsd's checkpoint; see
tests/vectors/README.md), and a forged-header corpus rejected rule by rule.

Real data checks what synthetic chains cannot: the BLAKE2b/SHA-3 proof of work at mainnet
difficulty, linkage, the median time past, chain work, and hsd's per-block retarget (cw-144) at
the three heights whose 147 ancestors lie inside the run (136147..136149). Every header of the
run has its own bits (149 distinct values in 150 blocks), so each of them is a difficulty change.
"""

from __future__ import annotations

import pytest
import vector_files

from etm_bridge.chains.handshake.spv import headers as hh
from etm_bridge.chains.handshake.spv.header_relay import Checkpoint, HandshakeRelay
from etm_bridge.errors import ConfigError, HeaderRejectedError
from etm_bridge.spv.kvstore import MemoryKeyValueStore

pytestmark = pytest.mark.unit

FIRST = 136_000
#: hnsd's checkpoint: the chain work of block 135999 (the block before the first header).
WORK_135999 = 0x64C9917A744A0F213DAA
HEADERS = vector_files.read_header_lines("handshake/mainnet_headers_136000_136149.hex")
DECODED = [hh.HandshakeHeader.from_bytes(raw) for raw in HEADERS]
#: The real bits of the three heights the run can recompute (scout-16 checked them too).
REAL_BITS = {136_147: 0x19049FED, 136_148: 0x19048E73, 136_149: 0x19049CB4}
RUN = hh.RETARGET_ANCESTORS  # 147: the checkpoint run the relay needs on mainnet


def chain_work(height: int) -> int:
    return WORK_135999 + sum(hh.work_from_bits(h.bits) for h in DECODED[: height - FIRST + 1])


def ancestors(last_height: int) -> list[hh.Ancestor]:
    start = max(FIRST, last_height - RUN + 1)
    heights = range(start, last_height + 1)
    return [hh.Ancestor(h, DECODED[h - FIRST].time, chain_work(h)) for h in heights]


def relay_at(end: int = FIRST + RUN - 1, start: int = FIRST) -> HandshakeRelay:
    """A mainnet relay whose checkpoint run is the real headers ``start..end``."""
    run = tuple(HEADERS[start - FIRST : end - FIRST + 1])
    return HandshakeRelay.initialise(
        MemoryKeyValueStore(), hh.MAIN, Checkpoint(start, run, chain_work(start))
    )


def now_after(height: int) -> int:
    return DECODED[height - FIRST].time + 60


def mine(header: hh.HandshakeHeader) -> bytes:
    """The header with the first nonce whose hash meets its own bits (easy bits only)."""
    for nonce in range(1 << 16):
        raw = hh.HandshakeHeader(nonce, *list(vars(header).values())[1:]).to_bytes()
        if int.from_bytes(hh.pow_hash(raw), "big") <= hh.target_from_bits(header.bits):
            return raw
    raise AssertionError("no nonce found")


# --- the real run --------------------------------------------------------------------------


def test_the_run_is_150_mainnet_headers_that_meet_their_proof_of_work_and_link() -> None:
    assert len(HEADERS) == 150
    hashes = [hh.pow_hash(raw) for raw in HEADERS]
    for raw, hash_, header in zip(HEADERS, hashes, DECODED, strict=True):
        hh.check_proof_of_work(hash_, header.bits)
        assert hh.HandshakeHeader.from_bytes(raw).to_bytes() == raw
        assert int.from_bytes(hash_, "big") < 1 << 200  # mainnet difficulty: many zero bits
    for parent, child in zip(hashes, DECODED[1:], strict=False):
        assert child.prev_block == parent
    assert len({h.bits for h in DECODED}) == 149  # every block moves the difficulty


def test_median_time_past_holds_wherever_the_run_has_eleven_ancestors() -> None:
    for i in range(hh.MEDIAN_TIMESPAN, len(DECODED)):
        previous = [h.time for h in DECODED[i - hh.MEDIAN_TIMESPAN : i]]
        assert DECODED[i].time > hh.median_time(previous), FIRST + i


@pytest.mark.parametrize("height", sorted(REAL_BITS))
def test_the_per_block_retarget_reproduces_the_real_bits(height: int) -> None:
    header = DECODED[height - FIRST]
    assert header.bits == REAL_BITS[height]
    assert hh.next_bits(hh.MAIN, header.time, ancestors(height - 1)) == header.bits


def test_the_retarget_needs_all_147_ancestors() -> None:
    short = ancestors(136_146)  # 136000..136146: one ancestor short for 136147's parent chain
    with pytest.raises(HeaderRejectedError) as info:
        hh.next_bits(hh.MAIN, DECODED[147].time, short[1:])
    assert info.value.reason == "retarget-before-checkpoint"


def test_the_relay_accepts_the_real_headers_with_their_chain_work() -> None:
    relay = relay_at()
    result = relay.submit_headers(HEADERS[RUN:], now_after(136_149))
    tip = relay.tip()
    assert (result.accepted, result.reorg) == (3, False)
    assert (tip.height, tip.hash) == (136_149, hh.pow_hash(HEADERS[-1]))
    assert tip.chain_work == chain_work(136_149)
    assert relay.confirmations(hh.pow_hash(HEADERS[RUN])) == 3
    assert relay.best_hash_at(136_148) == hh.pow_hash(HEADERS[-2])


def test_a_relay_checkpoint_shorter_than_the_retarget_window_is_refused() -> None:
    with pytest.raises(ConfigError, match="147"):
        relay_at(end=FIRST + RUN - 2)


def test_a_later_checkpoint_run_accepts_the_next_real_header() -> None:
    relay = relay_at(start=136_002, end=136_148)
    relay.submit_headers([HEADERS[-1]], now_after(136_149))
    assert relay.tip().height == 136_149


# --- forged headers, rule by rule ----------------------------------------------------------


def rejected(relay: HandshakeRelay, headers: list[bytes], now: int) -> str:
    tip = relay.tip()
    with pytest.raises(HeaderRejectedError) as info:
        relay.submit_headers(headers, now)
    assert relay.tip() == tip  # nothing stored: a batch is all or nothing
    return info.value.reason


def test_every_single_byte_change_of_a_real_header_fails_its_proof_of_work() -> None:
    relay, real = relay_at(), HEADERS[RUN]
    for offset in range(hh.HEADER_SIZE):
        forged = bytearray(real)
        forged[offset] ^= 0x01
        reason = rejected(relay, [bytes(forged)], now_after(136_147))
        # a changed prevBlock also breaks linkage, but the work is checked first; the time's
        # top byte makes it 2^53 or more, refused while decoding
        assert reason == ("bad-header-time" if offset == 11 else "high-hash"), offset


def test_easy_bits_that_meet_their_own_target_fail_the_retarget_rule() -> None:
    """The wrong-retarget attack: a header claiming regtest's limit is cheap to mine (hsd's
    verifyPOW compares with the header's own bits only), so the bits rule must refuse it."""
    relay, real = relay_at(), DECODED[RUN]
    forged = mine(hh.HandshakeHeader(**{**vars(real), "bits": 0x207FFFFF}))
    hh.check_proof_of_work(hh.pow_hash(forged), 0x207FFFFF)  # it does meet its own bits
    assert rejected(relay, [forged], now_after(136_147)) == "bad-diffbits"


def test_the_powlimit_bits_are_refused_after_the_first_146_blocks() -> None:
    relay, real = relay_at(), DECODED[RUN]
    forged = hh.HandshakeHeader(**{**vars(real), "bits": hh.MAIN.pow_limit_bits}).to_bytes()
    assert rejected(relay, [forged], now_after(136_147)) in {"high-hash", "bad-diffbits"}


def test_a_neighbours_bits_are_not_this_heights_bits() -> None:
    chain = ancestors(136_147)
    time = DECODED[148].time
    assert hh.next_bits(hh.MAIN, time, chain) == REAL_BITS[136_148]
    assert hh.next_bits(hh.MAIN, time, chain) not in {REAL_BITS[136_147], REAL_BITS[136_149]}


def test_linkage_duplicates_length_and_the_future_are_refused() -> None:
    relay = relay_at()
    assert rejected(relay, [HEADERS[RUN + 1]], now_after(136_149)) == "bad-prevblk"
    assert rejected(relay, [HEADERS[RUN - 1]], now_after(136_149)) == "duplicate"
    assert rejected(relay, [HEADERS[RUN][:-1]], now_after(136_149)) == "bad-header-length"
    too_early = DECODED[RUN].time - hh.MAX_FUTURE_S - 1  # the relay's clock is 2 h behind it
    assert rejected(relay, [HEADERS[RUN]], too_early) == "time-too-new"
    relay.submit_headers([HEADERS[RUN]], DECODED[RUN].time - hh.MAX_FUTURE_S)  # exactly 2 h


def test_a_good_header_after_a_forged_one_in_the_same_batch_stores_nothing() -> None:
    relay, real = relay_at(), DECODED[RUN]
    forged = mine(hh.HandshakeHeader(**{**vars(real), "bits": 0x207FFFFF}))
    assert rejected(relay, [HEADERS[RUN], forged], now_after(136_149)) == "bad-diffbits"
    assert relay.tip().height == 136_146 and relay.get(hh.pow_hash(HEADERS[RUN])) is None
