"""Key derivation: pinned vectors, domain separation, and addresses checked by other libraries."""

from __future__ import annotations

import hashlib
import hmac

import nacl.signing
import pytest
from bitcoin.segwit_addr import decode as bech32_decode
from eth_keys import keys as eth_keys
from hypothesis import given, settings
from hypothesis import strategies as st

from etm_bridge.chain.address import address_hash, decode_address
from etm_bridge.chains.bitcoin.wallet import BTC_HRP, btc_address, decode_btc_address, hash160
from etm_bridge.errors import ValidationError
from etm_bridge.wallet.derive import (
    CHAINS,
    SECP256K1_N,
    UnlockedWallet,
    WalletPublic,
    _valid_secp256k1,
    derive_secret,
)

SEED = bytes(range(32))
#: Pinned: changing the derivation would silently move every user's funds to new addresses.
VECTORS = {
    "etm": "fae054dc12b851b31094eab44b30054368c3b663fe69528c1f8157fba048d353",
    "btc": "27f3d24be8853851d7da38a75778b6a46dcc71bd14817dd25de4253898aad9d9",
    "eth": "fe20acf2f4b4ff47bcd464f9b037b46ddd567eedf2ae244320dcfd4f9f1bc927",
}
PUBLIC = {
    "etm": "etm16cq7zlwkce9pnuxjzrpx2llhr6emaf95xx6me6",
    "btc_regtest": "bcrt1q8zklz6c7jt6ggxklkepqpuuea5gtd6x7d4rf3s",
    "btc_mainnet": "bc1q8zklz6c7jt6ggxklkepqpuuea5gtd6x796pha2",
    "eth": "0x2159bDfa155aD7936300A05eDcae7FC61fcF625b",
}


def test_derivation_matches_pinned_vectors_and_the_documented_hmac() -> None:
    for chain, expected in VECTORS.items():
        assert derive_secret(SEED, chain).hex() == expected
        label = b"etm-bridge/wallet/v1/" + chain.encode()
        documented = hmac.new(label, SEED + b"\x00", hashlib.sha512).digest()[:32]
        assert derive_secret(SEED, chain) == documented


def test_pinned_addresses_of_the_vector_seed() -> None:
    public = UnlockedWallet(SEED).public()
    assert public.etm.address == PUBLIC["etm"]
    assert public.btc.address("regtest") == PUBLIC["btc_regtest"]
    assert public.btc.address("mainnet") == PUBLIC["btc_mainnet"]
    assert public.eth.address == PUBLIC["eth"]


def test_each_chain_gets_its_own_key_and_seeds_do_not_collide() -> None:
    secrets = {derive_secret(SEED, chain) for chain in CHAINS}
    assert len(secrets) == len(CHAINS)  # etm and every installed chain's label
    other = bytes(31) + b"\x01"
    assert derive_secret(other, "btc") != derive_secret(SEED, "btc")


def test_addresses_agree_with_independent_libraries() -> None:
    wallet = UnlockedWallet(SEED)
    public = wallet.public()
    etm_pk = bytes(nacl.signing.SigningKey(wallet.unsafe_export_etm_seed()).verify_key)
    assert public.etm.public_key == etm_pk
    assert decode_address(public.etm.address) == address_hash(etm_pk)
    btc_key = eth_keys.PrivateKey(wallet.unsafe_export_chain_secret("btc"))
    assert public.btc.public_key == btc_key.public_key.to_compressed_bytes()
    for network, hrp in BTC_HRP.items():
        version, program = bech32_decode(hrp, public.btc.address(network))
        assert (version, bytes(program)) == (0, hash160(public.btc.public_key))
    eth_key = eth_keys.PrivateKey(wallet.unsafe_export_chain_secret("eth"))
    assert public.eth.address == eth_key.public_key.to_checksum_address()


def test_secp256k1_candidates_outside_the_group_are_skipped() -> None:
    assert not _valid_secp256k1(bytes(32))
    assert not _valid_secp256k1(SECP256K1_N.to_bytes(32, "big"))
    assert _valid_secp256k1((SECP256K1_N - 1).to_bytes(32, "big"))
    assert _valid_secp256k1((1).to_bytes(32, "big"))


@pytest.mark.parametrize("seed", [b"", bytes(31), bytes(33), "00" * 32])
def test_master_seed_must_be_32_bytes(seed: object) -> None:
    with pytest.raises(ValidationError, match="master seed must be 32 bytes"):
        derive_secret(seed, "etm")  # type: ignore[arg-type]


def test_unknown_chain_and_network_are_named() -> None:
    with pytest.raises(ValidationError, match="unknown chain 'doge'"):
        derive_secret(SEED, "doge")
    with pytest.raises(ValidationError, match="unknown Bitcoin network 'liquid'"):
        btc_address(UnlockedWallet(SEED).public().btc.public_key, "liquid")


def test_unlocked_wallet_never_shows_its_seed() -> None:
    wallet = UnlockedWallet(SEED)
    assert SEED.hex() not in repr(wallet) and SEED.hex() not in str(wallet)


def test_public_view_json_round_trip_and_rejects_mismatched_address() -> None:
    public = UnlockedWallet(SEED).public()
    assert WalletPublic.from_json(public.to_json()) == public
    data = public.to_json()
    data["etm"]["address"] = UnlockedWallet(bytes(32)).public().etm.address
    with pytest.raises(ValidationError, match="is not that of its public key"):
        WalletPublic.from_json(data)
    data = public.to_json()
    del data["etm"]
    with pytest.raises(ValidationError, match="'etm'"):
        WalletPublic.from_json(data)
    # a chain's entry may be absent (a keystore made before that chain was installed): the
    # view has no key of it, it is never someone else's
    data = public.to_json()
    del data["eth"]
    assert "eth" not in WalletPublic.from_json(data).chains
    assert WalletPublic.from_json(data).chains["btc"] == public.chains["btc"]


def test_decode_btc_address_accepts_only_p2wpkh() -> None:
    public = UnlockedWallet(SEED).public()
    assert decode_btc_address(public.btc.address("regtest")) == (
        "bcrt",
        hash160(public.btc.public_key),
    )
    with pytest.raises(ValidationError, match="not a P2WPKH"):
        decode_btc_address(
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
        )


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_any_seed_derives_a_valid_deterministic_wallet(seed: bytes) -> None:
    first, second = UnlockedWallet(seed).public(), UnlockedWallet(seed).public()
    assert first == second
    assert WalletPublic.from_json(first.to_json()) == first  # every field validates
    assert _valid_secp256k1(derive_secret(seed, "btc"))
    assert _valid_secp256k1(derive_secret(seed, "eth"))
