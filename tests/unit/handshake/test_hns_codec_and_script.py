"""Strict parsing and the HTLC template's edges (pure; hsd's reference vectors are in
``test_hns_vectors.py``)."""

from __future__ import annotations

import ast
import json
from dataclasses import replace
from pathlib import Path

import etm_bridge_handshake
import pytest
from etm_bridge_handshake.codec import Address, Input, Output, Tx, decode_tx, decode_tx_base
from etm_bridge_handshake.script import (
    HtlcScript,
    LockMarker,
    decode_address,
    parse_htlc_script,
    parse_marker,
)
from etm_bridge_handshake.sighash import WalletKey

from etm_bridge.errors import AddressError, ValidationError

VECTORS = json.loads((Path(__file__).parent / "vectors" / "hsd_vectors.json").read_text())
RAW = bytes.fromhex(VECTORS["tx"]["raw"])
KEY_A, KEY_B = (WalletKey(bytes([n]) * 32) for n in (0x11, 0x22))
HASHLOCK = bytes.fromhex(VECTORS["hashlock"])
PACKAGE = Path(etm_bridge_handshake.__file__).parent
PURE = ["codec", "script", "sighash", "txbuild", "fees", "mempool", "activity", "proofs"]
IO_MODULES = {"socket", "requests", "sqlite3", "subprocess", "urllib", "http", "os", "pathlib"}


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_import_nothing_that_does_io(module: str) -> None:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert {name.split(".")[0] for name in names} & IO_MODULES == set()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (RAW[:-1], "truncated"),
        (RAW + b"\x00", "trailing"),
        (b"", "non-empty"),
        (RAW[:4] + b"\xfd\x01\x00" + RAW[5:], "non-canonical"),  # input count 1 as 3 bytes
        (RAW[:4] + b"\xfe\xff\xff\xff\x7f" + RAW[5:], "count"),  # 2^31 inputs
    ],
    ids=["truncated", "trailing", "empty", "non-canonical varint", "absurd count"],
)
def test_malformed_transactions_are_refused_with_the_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        decode_tx(raw)


def test_an_address_outside_2_to_40_bytes_is_refused() -> None:
    tx = decode_tx(RAW)
    at = RAW.index(tx.outputs[2].address.encode())  # the 40-byte nulldata output
    bad = RAW[:at] + bytes([31, 41]) + RAW[at + 2 :] + b"\xab"
    with pytest.raises(ValidationError, match=r"2\.\.40"):
        decode_tx(bad)


def test_stripped_transaction_parses_to_the_same_txid() -> None:
    tx = decode_tx(RAW)
    assert decode_tx_base(tx.encode_base()).txid == tx.txid
    with pytest.raises(ValidationError):
        decode_tx_base(tx.encode())  # the witnesses are trailing bytes there


@pytest.mark.parametrize("height", [0, -1, 2**31, True])
def test_timelock_must_be_a_block_height(height: int) -> None:
    with pytest.raises(ValidationError, match="height"):
        HtlcScript(HASHLOCK, KEY_B.pubkey, KEY_A.pubkey, height)


def test_scripts_that_are_not_exactly_the_template_are_refused() -> None:
    script = HtlcScript(HASHLOCK, KEY_B.pubkey, KEY_A.pubkey, 300).script
    for bad in (script[:-1], script + b"\xac", script.replace(b"\xa8", b"\xc1", 1), b"\x63" * 120):
        with pytest.raises(ValidationError, match="template"):
            parse_htlc_script(bad)


def _lock_tx(witness0: tuple[bytes, ...], marker: Address) -> Tx:
    return Tx((Input(bytes(32), 0, 0xFFFFFFFF, witness0),), (Output(0, marker),))


def test_marker_takes_the_refund_key_from_input_0_and_nothing_else() -> None:
    marker = LockMarker(KEY_B.pubkey, KEY_A.pubkey, 500)
    assert parse_marker(_lock_tx((b"s" * 65, KEY_A.pubkey), marker.nulldata())) == marker
    assert len(marker.nulldata().hash) == 40  # hsd's nulldata limit
    for witness in [(b"s" * 65,), (b"s" * 65, KEY_A.pubkey, b""), (b"s" * 65, b"\x04" * 33)]:
        assert parse_marker(_lock_tx(witness, marker.nulldata())) is None
    other = Address(31, b"XX\x01" + marker.nulldata().hash[3:])
    assert parse_marker(_lock_tx((b"s" * 65, KEY_A.pubkey), other)) is None


def test_addresses_of_another_network_are_refused() -> None:
    text = VECTORS["keys"][0]["main"]
    assert decode_address(text, "main") == KEY_A.address
    with pytest.raises(AddressError, match="regtest"):
        decode_address(text, "regtest")


def test_private_key_must_be_32_valid_bytes() -> None:
    for bad in (b"\x01" * 31, bytes(32)):
        with pytest.raises(ValidationError):
            WalletKey(bad)


def test_a_replaced_transaction_never_reuses_the_cached_encoding() -> None:
    tx = decode_tx(RAW)
    assert tx.txid_hex == VECTORS["tx"]["txid"]  # the base encoding is cached now
    moved = replace(tx, locktime=tx.locktime + 1)
    assert moved.txid != tx.txid and moved.encode_base()[-4:] != tx.encode_base()[-4:]
