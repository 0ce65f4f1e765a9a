"""ECVRF-EDWARDS25519-SHA512-TAI (etm_bridge.chain.vrf) against RFC 9381 Appendix B.3, and the
refusals a RANDAO reveal relies on."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etm_bridge.chain import vrf
from etm_bridge.chain.keys import SigningKey, dev_key

#: RFC 9381 Appendix B.3, Examples 16-18: (SK, PK, alpha, pi, beta); Example 17 needs ctr = 1.
RFC9381_TAI = [
    ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "8657106690b5526245a92b003bb079ccd1a92130477671f6fc01ad16f26f723f26f8a57ccaed74ee1b190bed1f"
     "479d9727d2d0f9b005a6e456a35d4fb0daab1268a1b0db10836d9826a528ca76567805",
     "90cf1df3b703cce59e2a35b925d411164068269d7b2d29f3301c03dd757876ff66b71dda49d2de59d03450451a"
     "f026798e8f81cd2e333de5cdf4f3e140fdd8ae"),
    ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "f3141cd382dc42909d19ec5110469e4feae18300e94f304590abdced48aed5933bf0864a62558b3ed7f2fea45c"
     "92a465301b3bbf5e3e54ddf2d935be3b67926da3ef39226bbc355bdc9850112c8f4b02",
     "eb4440665d3891d668e7e0fcaf587f1b4bd7fbfe99d0eb2211ccec90496310eb5e33821bc613efb94db5e5b54c"
     "70a848a0bef4553a41befc57663b56373a5031"),
    ("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "9bc0f79119cc5604bf02d23b4caede71393cedfbb191434dd016d30177ccbf8096bb474e53895c362d8628ee9f"
     "9ea3c0e52c7a5c691b6c18c9979866568add7a2d41b00b05081ed0f58ee5e31b3a970e",
     "645427e5d00c62a23fb703732fa5d892940935942101e456ecca7bb217c61c452118fec1219202a0edcf038bb6"
     "373241578be7217ba85a2687f7a0310b2df19f"),
]  # fmt: skip


@pytest.mark.parametrize(("sk", "pk", "alpha", "pi", "beta"), RFC9381_TAI)
def test_rfc9381_vectors(sk: str, pk: str, alpha: str, pi: str, beta: str) -> None:
    seed, public_key, message = bytes.fromhex(sk), bytes.fromhex(pk), bytes.fromhex(alpha)
    assert SigningKey(seed).public_key == public_key  # the VRF key is the ed25519 key
    assert vrf.prove(seed, message).hex() == pi
    assert vrf.verify(public_key, message, bytes.fromhex(pi)) == bytes.fromhex(beta)
    assert vrf.proof_to_hash(bytes.fromhex(pi)).hex() == beta


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes((data[index] ^ 1,)) + data[index + 1 :]


def test_a_proof_verifies_only_for_its_key_and_input() -> None:
    key, other = dev_key("vrf-a"), dev_key("vrf-b")
    proof = vrf.prove(key.seed, b"round 7")
    assert vrf.verify(key.public_key, b"round 7", proof) is not None
    assert vrf.verify(key.public_key, b"round 8", proof) is None
    assert vrf.verify(other.public_key, b"round 7", proof) is None
    for index in (0, 31, 32, 47, 48, 79):  # Gamma, c and s each refuse a flipped bit
        assert vrf.verify(key.public_key, b"round 7", _flip(proof, index)) is None
    assert vrf.verify(key.public_key, b"round 7", proof[:-1]) is None


def test_malformed_keys_and_proofs_are_refused_without_raising() -> None:
    sk, pk, alpha, pi, _ = (bytes.fromhex(x) for x in RFC9381_TAI[0])
    low_order_keys = [b"\x01" + bytes(31), bytes(31) + b"\x80", b"\xec" + b"\xff" * 30 + b"\x7f"]
    for bad_key in low_order_keys:
        assert vrf.verify(bad_key, alpha, pi) is None
    s_not_reduced = pi[:48] + b"\xff" * 32
    gamma_x0_sign = b"\x01" + bytes(30) + b"\x80" + pi[32:]
    for bad in (s_not_reduced, gamma_x0_sign, bytes(80), b"\xff" * 80):
        assert vrf.verify(pk, alpha, bad) is None
    assert vrf.prove(sk, alpha) == vrf.prove(sk, alpha)  # deterministic


def test_outputs_of_different_inputs_differ() -> None:
    key = dev_key("vrf-a")
    outputs = {vrf.proof_to_hash(vrf.prove(key.seed, bytes([i]))) for i in range(50)}
    assert len(outputs) == 50 and all(len(o) == vrf.OUTPUT_BYTES for o in outputs)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    key=st.one_of(st.binary(min_size=32, max_size=32), st.binary(max_size=40)),
    proof=st.one_of(st.binary(min_size=80, max_size=80), st.binary(max_size=90)),
)
def test_verify_never_raises_on_arbitrary_keys_and_proofs(key: bytes, proof: bytes) -> None:
    """A reveal or a delegate key from the wire can be anything: verify answers None, never an
    exception that would escape block validation as something other than ``bad_reveal``."""
    assert vrf.verify(key, b"alpha", proof) is None
