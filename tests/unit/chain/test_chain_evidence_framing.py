"""Nobody but the key holder makes double-forging evidence: re-encodings of one honest header.

A peer would frame an honest delegate if it could turn the one header the delegate signed for a
slot into a second, different-id header that still verifies: the id hashes the signature, so a
malleable signature (S + L, a torsion point added to R) or a second encoding of the same fields
would be "two headers for one slot". libsodium's verification refuses a non-canonical S and
compares R by its canonical encoding, and the header encoding has fixed-width fields only, so
every variant fails the signature check and is neither a block nor evidence.
"""

from __future__ import annotations

from dataclasses import replace

import nacl.bindings as sodium
import pytest
from conftest import DevChain

from etm_bridge.chain.block import Block, BlockHeader
from etm_bridge.errors import BlockRejectedError, EvidenceRejectedError, ValidationError

L = 2**252 + 27742317777372353535851937790883648493
#: a point of order 8 (RFC 8032 test material; any small-order point would do)
TORSION = bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")


def _malleated(header: BlockHeader) -> list[BlockHeader]:
    sig = header.block_signature
    r, s = sig[:32], int.from_bytes(sig[32:], "little")
    out = [replace(header, block_signature=r + (s + L).to_bytes(32, "little"))]
    out.append(
        replace(header, block_signature=sodium.crypto_core_ed25519_add(r, TORSION) + sig[32:])
    )
    sign_flipped = bytearray(r)
    sign_flipped[31] ^= 0x80
    out.append(replace(header, block_signature=bytes(sign_flipped) + sig[32:]))
    return out


def test_an_honest_header_cannot_be_re_encoded_into_evidence(dev: DevChain) -> None:
    for _ in range(dev.params.delegates_per_round):
        dev.forge()
    honest = dev.forge()
    variants = _malleated(honest.header)
    assert all(v.id != honest.id for v in variants)
    for variant in variants:
        assert not variant.signature_ok(dev.chain.genesis_id)
        with pytest.raises(EvidenceRejectedError) as info:
            dev.chain.note_evidence(honest.header, variant)
        assert info.value.reason == "bad_signature"
        with pytest.raises(BlockRejectedError):  # as a block: not even a side block
            dev.chain.apply_block(Block(variant, honest.transactions))
    # the encoding is fixed-width: one byte more or less is no header at all
    with pytest.raises(ValidationError):
        dev.chain.note_evidence(honest.header.encoded, honest.header.encoded + b"\x00")
    assert dev.chain.pending_evidence() == []
