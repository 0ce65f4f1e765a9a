"""The HTLC template: committed vectors, the documented template, canonical parsing, marker."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from bitcoin.core.script import OPCODES_BY_NAME, CScript
from etm_bridge_bitcoin.script import (
    HtlcScript,
    LockMarker,
    claim_witness,
    is_refund_witness,
    parse_htlc_script,
    parse_marker,
    preimage_from_witnesses,
    refund_witness,
)
from hypothesis import given
from hypothesis import strategies as st

from etm_bridge.errors import ValidationError
from etm_bridge.hashlock import hashlock_of

ROOT = Path(__file__).resolve().parents[3]
CONTRACT = ROOT / "contracts" / "bitcoin"
VECTORS = json.loads((CONTRACT / "htlc_vectors.json").read_text())
CLAIM = bytes.fromhex(VECTORS["claim_pubkey"])
REFUND = bytes.fromhex(VECTORS["refund_pubkey"])
HASHLOCK = bytes.fromhex(VECTORS["hashlock"])


def _htlc(height: int) -> HtlcScript:
    return HtlcScript(HASHLOCK, CLAIM, REFUND, height)


def _assemble(asm: str, values: dict[str, object]) -> bytes:
    """Assemble htlc.asm: opcodes by name, numbers as ints, <name> from ``values``."""
    items: list[object] = []
    for token in asm.split():
        if token.startswith("<"):
            items.append(values[token.strip("<>")])
        elif re.fullmatch(r"\d+", token):
            items.append(int(token))
        else:
            items.append(OPCODES_BY_NAME[token])
    return bytes(CScript(items))


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: str(c["timelock_height"]))
def test_script_matches_the_committed_vectors(case: dict) -> None:
    htlc = _htlc(case["timelock_height"])
    assert htlc.script.hex() == case["witness_script"]
    assert htlc.script_pubkey.hex() == case["script_pubkey"]
    marker = LockMarker(CLAIM, REFUND, case["timelock_height"])
    assert marker.script_pubkey().hex() == case["marker_script_pubkey"]


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: str(c["timelock_height"]))
def test_documented_template_assembles_to_the_same_script(case: dict) -> None:
    asm = (CONTRACT / "htlc.asm").read_text()
    values = {
        "hashlock": HASHLOCK,
        "claim_pubkey": CLAIM,
        "refund_pubkey": REFUND,
        "timelock_height": case["timelock_height"],
    }
    assert _assemble(asm, values).hex() == case["witness_script"]


def test_hashlock_is_sha256_of_the_vector_preimage() -> None:
    assert hashlock_of(bytes.fromhex(VECTORS["preimage"])) == HASHLOCK


@pytest.mark.parametrize("height", [1, 16, 17, 127, 128, 255, 256, 65535, 8_388_608, 499_999_999])
def test_parse_round_trips_every_height_encoding(height: int) -> None:
    assert parse_htlc_script(_htlc(height).script) == _htlc(height)


def test_parse_rejects_other_scripts() -> None:
    script = _htlc(500).script
    with pytest.raises(ValidationError, match="template"):
        parse_htlc_script(script[:-1])  # no OP_CHECKSIG
    with pytest.raises(ValidationError, match="template"):
        parse_htlc_script(script.replace(bytes([0x82, 0x01, 0x20]), bytes([0x82, 0x01, 0x21])))
    non_minimal = script.replace(bytes([0x02, 0xF4, 0x01]), bytes([0x03, 0xF4, 0x01, 0x00]))
    with pytest.raises(ValidationError, match="non-canonical"):
        parse_htlc_script(non_minimal)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"claim_pubkey": b"\x04" + b"\x11" * 32}, "claim_pubkey must be a 33-byte"),
        ({"refund_pubkey": b"\x02" * 32}, "refund_pubkey must be a 33-byte"),
        ({"timelock_height": 500_000_000}, "block height"),
        ({"timelock_height": 0}, "block height"),
    ],
)
def test_htlc_values_are_validated(changes: dict, message: str) -> None:
    values = {"hashlock": HASHLOCK, "claim_pubkey": CLAIM, "refund_pubkey": REFUND}
    with pytest.raises(ValidationError, match=message):
        HtlcScript(**{**values, "timelock_height": 500, **changes})


def test_witness_forms() -> None:
    htlc, sig, preimage = _htlc(500), b"\x30" * 71, bytes(range(32))
    assert claim_witness(sig, preimage, htlc) == [sig, preimage, b"\x01", htlc.script]
    assert refund_witness(sig, htlc) == [sig, b"", htlc.script]
    assert is_refund_witness(refund_witness(sig, htlc))
    assert not is_refund_witness(claim_witness(sig, preimage, htlc))


def test_preimage_is_found_in_any_push_of_any_input() -> None:
    preimage = bytes(range(32))
    witnesses = [[b"\x30" * 71, b"\x02" * 33], [b"sig", b"\x01", preimage, b"x"]]
    assert preimage_from_witnesses(witnesses, hashlock_of(preimage)) == preimage
    assert preimage_from_witnesses(witnesses[:1], hashlock_of(preimage)) is None


def test_marker_round_trips_and_ignores_other_op_returns() -> None:
    marker = LockMarker(CLAIM, REFUND, 840_000)
    assert len(marker.script_pubkey()) <= 83  # standard OP_RETURN size, Core and bcoin
    assert parse_marker(marker.script_pubkey()) == marker
    assert parse_marker(bytes(CScript([OPCODES_BY_NAME["OP_RETURN"], b"hello"]))) is None
    assert parse_marker(_htlc(5).script_pubkey) is None


_keys = st.builds(
    lambda parity, x: bytes([parity]) + x,
    st.sampled_from([2, 3]),
    st.binary(min_size=32, max_size=32),
)


@given(
    hashlock=st.binary(min_size=32, max_size=32),
    claim=_keys,
    refund=_keys,
    height=st.integers(min_value=1, max_value=499_999_999),
)
def test_script_and_marker_round_trip_for_any_values(
    hashlock: bytes, claim: bytes, refund: bytes, height: int
) -> None:
    htlc = HtlcScript(hashlock, claim, refund, height)
    assert parse_htlc_script(htlc.script) == htlc
    marker = LockMarker(claim, refund, height)
    assert parse_marker(marker.script_pubkey()) == marker
    assert marker.htlc(hashlock).script_pubkey == htlc.script_pubkey
