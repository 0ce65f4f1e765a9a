"""Key policies, v1/v2 HTLC templates, markers and tags (design-14 2.1): exact, canonical."""

from __future__ import annotations

import hashlib

import pytest
from bitcoin.core.script import OP_NOP, CScript
from etm_bridge_bitcoin.script import HtlcScript

from etm_bridge.chains.bitcoin.custody import ecdsa, scripts
from etm_bridge.chains.bitcoin.custody.scripts import (
    CounterHtlc,
    HtlcV1,
    KeyPolicy,
    MarkerV2,
    SwapInHtlc,
)
from etm_bridge.errors import ValidationError

KEYS = tuple(sorted(ecdsa.pubkey(bytes([i + 1]) * 32) for i in range(15)))
USER = ecdsa.pubkey(b"\x77" * 32)
H = hashlib.sha256(b"x").digest()
TIMELOCKS = (1, 16, 17, 127, 128, 255, 256, 500, 65_535, 840_000, 499_999_999)


def test_policy_bytes_and_vault_script_sizes() -> None:
    p = KeyPolicy.of(3, list(reversed(KEYS[:4])))
    assert p.keys == KEYS[:4] and p.encode()[:3] == b"\xa0\x03\x04" and len(p.encode()) == 3 + 132
    assert scripts.parse_policy(p.encode()) == p
    assert len(p.vault_script()) == 139 and len(KeyPolicy(11, KEYS).vault_script()) == 513
    assert scripts.parse_vault_script(p.vault_script()) == p


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        KEYS[0],  # a single key never reads as a policy
        b"\xa0\x03\x04" + b"".join(KEYS[:3]),  # short
        b"\xa0\x03\x04" + b"".join(KEYS[:4]) + b"\x00",  # trailing
        b"\xa0\x03\x04" + b"".join(reversed(KEYS[:4])),  # not BIP67 order
        b"\xa0\x03\x04" + b"".join((KEYS[0], KEYS[0], KEYS[1], KEYS[2])),  # duplicate
        b"\xa0\x00\x04" + b"".join(KEYS[:4]),  # m = 0
        b"\xa0\x05\x04" + b"".join(KEYS[:4]),  # m > n
        b"\xa0\x01\x10" + b"".join(KEYS) + KEYS[0],  # 16 keys
        b"\xa1\x03\x04" + b"".join(KEYS[:4]),  # wrong tag
        b"\xa0\x01\x01" + b"\x04" + KEYS[0][1:],  # not a compressed key
    ],
)
def test_malformed_policies_are_refused(raw: bytes) -> None:
    with pytest.raises(ValidationError):
        scripts.parse_policy(raw)


@pytest.mark.parametrize("timelock", TIMELOCKS)
@pytest.mark.parametrize("n", [1, 2, 4, 15])
def test_every_template_round_trips(timelock: int, n: int) -> None:
    p = KeyPolicy(n // 2 + 1, KEYS[:n])
    for htlc in (
        SwapInHtlc(H, p, USER, timelock),
        CounterHtlc(H, USER, p, timelock),
        HtlcV1(H, USER, KEYS[0], timelock),
    ):
        assert scripts.parse_htlc_script(htlc.script) == htlc
        if not isinstance(htlc, HtlcV1):
            marker = MarkerV2.of(htlc)
            spk = marker.script_pubkey()
            assert len(spk) == 76 and scripts.parse_marker_v2(spk) == marker
            assert marker.htlc(H, p) == htlc


def test_v1_is_byte_for_byte_the_adapters_template() -> None:
    for t in TIMELOCKS:
        assert HtlcV1(H, USER, KEYS[0], t).script == HtlcScript(H, USER, KEYS[0], t).script


def _edit(script: bytes, index: int, item: object) -> bytes:
    items = list(CScript(script))
    items[index] = item
    return bytes(CScript(items))


def _variants() -> list[bytes]:
    p = KeyPolicy(3, KEYS[:4])
    good = SwapInHtlc(H, p, USER, 17).script
    counter = CounterHtlc(H, USER, p, 17).script
    return [
        good + bytes(CScript([OP_NOP])),  # trailing opcode
        good.replace(b"\x01\x11", b"\x02\x11\x00"),  # non-minimal timelock push
        bytes(CScript([*list(CScript(good))[:10]])),  # truncated
        _edit(SwapInHtlc(H, p, USER, 5).script, 15, b"\x05"),  # 5 as a push
        good.replace(b"\x21" + KEYS[0], b"\x4c\x21" + KEYS[0]),  # PUSHDATA1 for a key
        _edit(good, 7, 5),  # m = 5 of 4
        _edit(good, 12, 5),  # n = 5 with 4 keys
        _edit(good, 8, KEYS[0][:32]),  # a 32-byte key
        counter.replace(KEYS[0], KEYS[5]).replace(KEYS[1], KEYS[0]),  # keys out of order
        bytes(CScript([*list(CScript(counter))[:-1]])),  # no OP_ENDIF
        b"\xff\xff",
    ]


@pytest.mark.parametrize("script", _variants())
def test_non_canonical_and_foreign_scripts_are_refused(script: bytes) -> None:
    p = KeyPolicy(3, KEYS[:4])
    assert script not in (SwapInHtlc(H, p, USER, 17).script, CounterHtlc(H, USER, p, 17).script)
    with pytest.raises(ValidationError):
        scripts.parse_htlc_script(script)


def test_a_vault_script_is_not_an_htlc_and_an_htlc_not_a_vault() -> None:
    p = KeyPolicy(3, KEYS[:4])
    with pytest.raises(ValidationError):
        scripts.parse_htlc_script(p.vault_script())
    with pytest.raises(ValidationError):
        scripts.parse_vault_script(CounterHtlc(H, USER, p, 9).script)
    with pytest.raises(ValidationError):  # OP_CHECKMULTISIGVERIFY, not the template
        scripts.parse_vault_script(p.vault_script()[:-1] + b"\xaf")


def test_markers_and_tags() -> None:
    p = KeyPolicy(3, KEYS[:4])
    marker = MarkerV2.of(SwapInHtlc(H, p, USER, 100))
    assert marker.data()[:5] == b"ETM\x02\x01" and len(marker.data()) == 74
    with pytest.raises(ValidationError, match="policy"):
        marker.htlc(H, KeyPolicy(2, KEYS[:4]))
    assert scripts.parse_marker_v2(marker.script_pubkey()[:-1]) is None
    assert scripts.parse_marker_v2(marker.script_pubkey().replace(b"ETM\x02", b"ETM\x01")) is None
    bad_role = marker.script_pubkey().replace(b"ETM\x02\x01", b"ETM\x02\x03")
    assert scripts.parse_marker_v2(bad_role) is None
    mid = bytes(range(32))
    tag = scripts.withdrawal_tag(mid)
    assert tag == b"\x6a\x24ETMW" + mid and scripts.parse_withdrawal_tag(tag) == mid
    assert scripts.parse_withdrawal_tag(tag + b"\x00") is None
    with pytest.raises(ValidationError):
        scripts.withdrawal_tag(mid[:31])
