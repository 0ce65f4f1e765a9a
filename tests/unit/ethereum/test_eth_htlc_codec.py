"""HTLC call encoding and event decoding (pure; the on-chain cross-check is in integration)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth_abi import encode
from eth_utils import keccak, to_checksum_address
from etm_bridge_ethereum.htlc import HtlcCodec, swap_hash

from etm_bridge.adapter import HtlcTerms
from etm_bridge.errors import ValidationError
from etm_bridge.hashlock import hashlock_of

CODEC = HtlcCodec()
PREIMAGE = bytes(range(32))
TERMS = HtlcTerms(
    amount=10**18,
    hashlock=hashlock_of(PREIMAGE),
    claim_key=bytes.fromhex("11" * 20),
    refund_key=bytes.fromhex("22" * 20),
    timelock_height=1234,
)
TOKEN = bytes.fromhex("33" * 20)


def test_swap_hash_is_keccak_of_the_packed_values():
    packed = (
        TERMS.hashlock + (10**18).to_bytes(32, "big") + bytes(20)
        + TERMS.claim_key + TERMS.refund_key + (1234).to_bytes(32, "big")
    )  # fmt: skip
    assert swap_hash(TERMS) == keccak(packed)
    assert swap_hash(replace(TERMS, asset_id=TOKEN)) != swap_hash(TERMS)


def test_swap_hash_refuses_keys_that_are_not_addresses():
    with pytest.raises(ValidationError, match="claim_key must be a 20-byte"):
        swap_hash(replace(TERMS, claim_key=b"\x02" * 33))


def test_ether_lock_sends_the_amount_and_token_lock_sends_none():
    data, value = CODEC.lock(TERMS)
    assert value == 10**18 and TERMS.hashlock in data
    token_data, token_value = CODEC.lock(replace(TERMS, asset_id=TOKEN))
    assert token_value == 0 and TOKEN in token_data and token_data[:4] != data[:4]


def test_claim_calldata_carries_the_preimage_of_any_length():
    assert PREIMAGE in CODEC.claim(PREIMAGE, TERMS)
    assert b"\x07" * 33 in CODEC.claim(b"\x07" * 33, TERMS)  # the chain must reject it


def _locked_log(terms: HtlcTerms, key: bytes) -> dict:
    token = terms.asset_id or bytes(20)
    data = encode(
        ["uint256", "address", "address", "uint256"],
        [terms.amount, to_checksum_address(token), to_checksum_address(terms.refund_key),
         terms.timelock_height],
    )  # fmt: skip
    return {
        "topics": [
            CODEC.locked_topic,
            "0x" + terms.hashlock.hex(),
            "0x" + key.hex(),
            "0x" + bytes(12).hex() + terms.claim_key.hex(),
        ],
        "data": "0x" + data.hex(),
        "transactionHash": "0x" + "aa" * 32,
        "blockNumber": "0x10",
        "logIndex": "0x1",
    }


@pytest.mark.parametrize("asset_id", [None, TOKEN])
def test_locked_event_decodes_back_to_the_terms(asset_id):
    terms = replace(TERMS, asset_id=asset_id)
    event = CODEC.decode_locked(_locked_log(terms, swap_hash(terms)))
    assert event.terms == terms and event.swap_hash == swap_hash(terms)
    assert (event.block_number, event.log_index) == (16, 1)


def test_claimed_event_yields_the_preimage_and_refunded_none():
    base = {"transactionHash": "0x" + "bb" * 32, "blockNumber": "0x11", "data": "0x"}
    key = "0x" + swap_hash(TERMS).hex()
    claimed = dict(base, topics=[CODEC.claimed_topic, "0x" + TERMS.hashlock.hex(), key],
                   data="0x" + PREIMAGE.hex())  # fmt: skip
    refunded = dict(base, topics=[CODEC.refunded_topic, "0x" + TERMS.hashlock.hex(), key])
    assert CODEC.decode_spent(claimed).preimage == PREIMAGE
    assert CODEC.decode_spent(refunded).preimage is None


def test_other_logs_are_refused():
    with pytest.raises(ValidationError, match="not a Locked event"):
        CODEC.decode_locked({"topics": ["0x" + "00" * 32], "data": "0x"})
    with pytest.raises(ValidationError, match="not a Claimed or Refunded"):
        CODEC.decode_spent({"topics": [CODEC.locked_topic, "0x00", "0x00"], "data": "0x"})
