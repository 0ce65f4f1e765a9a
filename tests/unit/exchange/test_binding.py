"""Binding proofs: BTC signed messages and EIP-191 signatures naming the ETM address."""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

import pytest
from bitcoin.core.key import CPubKey
from bitcoin.signmessage import BitcoinMessage, SignMessage, VerifyMessage
from bitcoin.wallet import CBitcoinSecret, P2PKHBitcoinAddress
from eth_account import Account
from eth_account.messages import encode_defunct

from etm_bridge.chains.bitcoin.binding import btc_pubkey_of, sign_btc
from etm_bridge.chains.ethereum.binding import sign_eth
from etm_bridge.errors import BindingError
from etm_bridge.exchange import binding as B
from etm_bridge.exchange.reasons import Reason

NET = "0x45544d01"
ME = "etm1me"
BTC_SECRET = bytes.fromhex("11" * 32)
ETH_ACCOUNT = Account.from_key(bytes.fromhex("22" * 32))


def btc_proof(nonce: int = 1, expiry: int = 200, etm: str = ME, secret: bytes = BTC_SECRET):
    msg = B.binding_message(NET, etm, "btc", nonce, expiry)
    return B.BindingProof(etm, "btc", btc_pubkey_of(secret), nonce, expiry, sign_btc(msg, secret))


def eth_proof(nonce: int = 1, expiry: int = 200) -> B.BindingProof:
    msg = B.binding_message(NET, ME, "eth", nonce, expiry)
    key = bytes.fromhex(ETH_ACCOUNT.address[2:])
    return B.BindingProof(ME, "eth", key, nonce, expiry, sign_eth(msg, ETH_ACCOUNT.key))


def bind(proof: B.BindingProof, **kw: Any) -> B.Binding:
    args: dict[str, Any] = {
        "sender": ME,
        "network": NET,
        "height": 100,
        "last_nonce": None,
        "current": None,
        "key_owner": None,
        "rebind": False,
    }
    args.update(kw)
    return B.check_binding(proof, **args)


def reason(proof: B.BindingProof, **kw: Any) -> str:
    with pytest.raises(BindingError) as exc:
        bind(proof, **kw)
    return exc.value.reason


def test_btc_binding_records_the_compressed_pubkey() -> None:
    b = bind(btc_proof())
    assert len(b.key) == 33 and b.key[0] in (2, 3)
    assert (b.etm_address, b.chain, b.nonce, b.bound_height) == (ME, "btc", 1, 100)


def test_btc_signature_is_the_standard_signed_message_format() -> None:
    # python-bitcoinlib's own verifier (a different code path: base64 + P2PKH address) agrees
    proof = btc_proof()
    address = P2PKHBitcoinAddress.from_pubkey(CPubKey(proof.key))
    message = BitcoinMessage(proof.message(NET))
    assert VerifyMessage(address, message, base64.b64encode(proof.signature))
    # and the base64 text form of the signature is accepted too
    assert bind(replace(proof, signature=base64.b64encode(proof.signature))).key == proof.key


def test_eth_binding_records_the_address() -> None:
    b = bind(eth_proof())
    assert "0x" + b.key.hex() == ETH_ACCOUNT.address.lower()


def test_forged_proofs_are_rejected() -> None:
    other = btc_pubkey_of(bytes.fromhex("33" * 32))
    assert reason(replace(btc_proof(), key=other)) == Reason.WRONG_SIGNER
    # a signature over a message naming another ETM address does not verify for ours
    stolen = btc_proof(etm="etm1victim")
    assert reason(replace(stolen, etm_address=ME)) == Reason.WRONG_SIGNER
    assert reason(replace(eth_proof(), nonce=2)) == Reason.WRONG_SIGNER
    assert reason(replace(btc_proof(), signature=b"\x1f" + b"\x00" * 64)) == Reason.BAD_SIGNATURE
    assert reason(replace(btc_proof(), signature=b"\x1b" + b"\x01" * 64)) == Reason.BAD_SIGNATURE
    assert reason(replace(eth_proof(), signature=b"\x00" * 65)) == Reason.BAD_SIGNATURE
    assert reason(replace(eth_proof(), signature=b"\x00" * 10)) == Reason.BAD_SIGNATURE


def test_proof_for_another_network_is_rejected() -> None:
    assert reason(btc_proof(), network="0x45544d02") == Reason.WRONG_SIGNER


def test_proof_sent_by_another_address_is_rejected() -> None:
    assert reason(btc_proof(), sender="etm1other") == Reason.WRONG_ETM_ADDRESS


def test_stale_and_too_long_lived_proofs_are_rejected() -> None:
    assert reason(btc_proof(expiry=99)) == Reason.PROOF_EXPIRED
    far = 100 + B.MAX_PROOF_LIFETIME_BLOCKS + 1
    assert reason(btc_proof(expiry=far)) == Reason.PROOF_TOO_LONG_LIVED


def test_replayed_nonce_is_rejected() -> None:
    assert reason(btc_proof(nonce=1), last_nonce=1) == Reason.NONCE_REPLAYED
    assert bind(btc_proof(nonce=2), last_nonce=1).nonce == 2


def test_rebinding_and_key_reuse_are_explicit() -> None:
    current = bind(btc_proof())
    assert reason(btc_proof(nonce=2), last_nonce=1, current=current) == Reason.ALREADY_BOUND
    new_secret = bytes.fromhex("44" * 32)
    rebound = bind(
        btc_proof(nonce=2, secret=new_secret), last_nonce=1, current=current, rebind=True
    )
    assert rebound.key == btc_pubkey_of(new_secret)
    assert reason(btc_proof(), rebind=True) == Reason.NOT_BOUND
    assert reason(btc_proof(), key_owner="etm1else") == Reason.KEY_BOUND_ELSEWHERE


def test_unsupported_chain_and_bad_key_length() -> None:
    with pytest.raises(BindingError) as exc:
        B.BindingProof(ME, "doge", b"\x02" * 33, 1, 1, b"")
    assert exc.value.reason == Reason.UNSUPPORTED_CHAIN
    with pytest.raises(BindingError) as exc:
        B.BindingProof(ME, "eth", b"\x02" * 33, 1, 1, b"")
    assert exc.value.reason == Reason.BAD_PARAMETER
    assert B.chain_of_asset("erc20:0xabc") == "eth"
    with pytest.raises(BindingError):
        B.chain_of_asset("etm")


def test_proofs_made_by_the_wallet_libraries_own_signers_bind() -> None:
    # independent of sign_btc/sign_eth: python-bitcoinlib's SignMessage (base64, compressed
    # key) and eth-account's EIP-191 sign_message, as a wallet would produce them
    secret = CBitcoinSecret.from_secret_bytes(bytes.fromhex("55" * 32))
    text = B.binding_message(NET, ME, "btc", 7, 150)
    sig_b64 = SignMessage(secret, BitcoinMessage(text))
    proof = B.BindingProof(ME, "btc", bytes(secret.pub), 7, 150, sig_b64)
    assert bind(proof).key == bytes(secret.pub)
    # the same signature over another ETM address's message is a forgery for that address
    assert reason(replace(proof, etm_address="etm1victim"), sender="etm1victim") == (
        Reason.WRONG_SIGNER
    )

    account = Account.create()
    text = B.binding_message(NET, ME, "eth", 7, 150)
    signed = Account.sign_message(encode_defunct(text=text), account.key)
    key20 = bytes.fromhex(account.address[2:])
    proof = B.BindingProof(ME, "eth", key20, 7, 150, bytes(signed.signature))
    assert bind(proof).key == key20
    # an EIP-191 signature for the btc chain's message does not bind on eth, and vice versa
    other = B.binding_message(NET, ME, "btc", 7, 150)
    wrong_chain = Account.sign_message(encode_defunct(text=other), account.key)
    assert reason(replace(proof, signature=bytes(wrong_chain.signature))) == Reason.WRONG_SIGNER
