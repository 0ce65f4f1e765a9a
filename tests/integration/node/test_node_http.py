"""A real node over HTTP: transfers and votes forged in the chaotic order, API errors."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from etm_bridge_regtest.etm_process import EtmNodeProcess, etm_node_in

from etm_bridge.chain import vrf
from etm_bridge.chain.address import address_hash, encode_address
from etm_bridge.chain.consensus import forging_order
from etm_bridge.chain.keys import SigningKey, dev_key
from etm_bridge.chain.rounds import mix
from etm_bridge.chain.tx import Tx
from etm_bridge.chain.tx_delegates import VOTE
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.errors import NodeUnavailableError, NotFoundError, TxRejectedError
from etm_bridge.node.client import NodeClient
from etm_bridge.units import ETM

DELEGATES = 5
FEE = 100_000


@pytest.fixture
def node(tmp_path: Path) -> Iterator[EtmNodeProcess]:
    home = tmp_path / "node"
    with etm_node_in(home, delegates=DELEGATES, block_time_s=1, funded_accounts=3) as proc:
        yield proc


def sign(client: NodeClient, key: SigningKey, type_id: int, payload: bytes, nonce: int) -> Tx:
    network = client.status()["networkId"]
    return Tx.create(key, network=network, type_id=type_id, nonce=nonce, fee=FEE, payload=payload)


def transfer(client: NodeClient, key: SigningKey, to: SigningKey, amount: int, nonce: int) -> Tx:
    payload = TransferPayload(address_hash(to.public_key), amount).encode()
    return sign(client, key, TRANSFER, payload, nonce)


def address(key: SigningKey) -> str:
    return encode_address(address_hash(key.public_key))


def wait_confirmed(client: NodeClient, tx_id: str, timeout_s: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        tx = client.transaction(tx_id)
        if tx["status"] == "confirmed":
            return tx
        time.sleep(0.1)
    raise AssertionError(f"tx {tx_id} not confirmed in {timeout_s}s")


def test_transfer_and_vote_are_accepted_over_http_and_forged(node: EtmNodeProcess) -> None:
    client = node.client
    assert client is not None
    alice, bob = dev_key("user-0"), dev_key("user-1")
    delegate = dev_key("delegate-2").public_key
    start_alice = client.account(address(alice))["balance"]
    start_bob = client.account(address(bob))["balance"]

    sent = client.submit_tx(transfer(client, alice, bob, 12 * ETM + 5, nonce=0).encoded)
    vote = sign(client, alice, VOTE, delegate, nonce=1)
    voted = client.submit_tx(vote.encoded)
    assert wait_confirmed(client, sent["id"])["typeName"] == "transfer"
    assert wait_confirmed(client, voted["id"])["height"] >= 1

    alice_now = client.account(address(alice))
    assert alice_now["balance"] == start_alice - (12 * ETM + 5) - 2 * FEE
    assert alice_now["nonce"] == 2
    assert alice_now["votes"] == [delegate.hex()]
    assert client.account(address(bob))["balance"] == start_bob + 12 * ETM + 5
    height = client.transaction(sent["id"])["height"]
    assert sent["id"] in client.block(height)["transactionIds"]


def test_rejected_transactions_say_why_and_change_nothing(node: EtmNodeProcess) -> None:
    client = node.client
    assert client is not None
    alice, bob = dev_key("user-0"), dev_key("user-1")
    before = client.account(address(alice))
    cases = {
        "wrong_nonce": transfer(client, alice, bob, ETM, nonce=7),
        "insufficient_balance": transfer(client, alice, bob, 10**17, nonce=0),
    }
    good = transfer(client, alice, bob, ETM, nonce=0)
    forged = Tx(good.network, good.type_id, good.sender_public_key, 0, good.fee,
                good.payload, bytes(64))  # fmt: skip
    cases["bad_signature"] = forged
    for reason, tx in cases.items():
        with pytest.raises(TxRejectedError) as info:
            client.submit_tx(tx.encoded)
        assert info.value.reason == reason
    assert client.account(address(alice)) == before
    assert client.status()["pendingTransactions"] == 0


def _round_seed(client: NodeClient, round_no: int) -> bytes:
    """Round 1: the genesis id; then the RANDAO accumulator over the previous round's reveals."""
    seed = bytes.fromhex(client.block(0)["fullId"])
    for height in range(1, (round_no - 1) * DELEGATES + 1):
        seed = mix(seed, vrf.proof_to_hash(bytes.fromhex(client.block(height)["reveal"])))
    return seed


def test_blocks_follow_the_chaotic_forging_order(node: EtmNodeProcess) -> None:
    client = node.client
    assert client is not None
    status = client.wait_for_height(2 * DELEGATES + 1, timeout_s=40)
    keys = [dev_key(f"delegate-{i}").public_key for i in range(DELEGATES)]
    genesis_time, block_time = status["genesisTime"], status["blockTimeS"]
    for round_no in (1, 2):
        seed_height = (round_no - 1) * DELEGATES
        order = forging_order(_round_seed(client, round_no), keys)  # all elected: N == all
        for height in range(seed_height + 1, seed_height + DELEGATES + 1):
            block = client.block(height)
            slot = (block["timestamp"] - genesis_time) // block_time
            assert bytes.fromhex(block["generatorPublicKey"]) == order[slot % DELEGATES]
    current = client.current_round()
    tip = client.status()
    seed_height = (current["round"] - 1) * DELEGATES
    if tip["height"] < seed_height + DELEGATES:  # the round did not close meanwhile
        expected = forging_order(_round_seed(client, current["round"]), keys)
        assert [bytes.fromhex(d["publicKey"]) for d in current["order"]] == expected


def test_api_errors_are_json_with_the_right_status(node: EtmNodeProcess) -> None:
    client = node.client
    assert client is not None
    url = client.url
    with pytest.raises(NotFoundError):
        client.block("ab" * 32)
    with pytest.raises(NotFoundError):
        client.transaction("cd" * 32)
    with pytest.raises(NotFoundError):
        client.block(10**9)
    post = f"{url}/api/transactions"
    big = requests.post(post, data=b"0" * (node.config.max_body_bytes + 1),
                        headers={"content-type": "text/plain"}, timeout=10)  # fmt: skip
    assert big.status_code == 413 and big.json()["error"]["code"] == "body_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused while streaming
        for _ in range(node.config.max_body_bytes // 65536 + 2):
            yield b"0" * 65536

    streamed = requests.post(
        post, data=chunks(), headers={"content-type": "text/plain"}, timeout=10
    )
    assert streamed.status_code == 413
    bad_json = requests.post(post, data=b"{not json", headers={"content-type": "application/json"})
    assert bad_json.status_code == 400 and "JSON" in bad_json.json()["error"]["message"]
    not_hex = requests.post(post, json={"tx": "zz"})
    assert not_hex.status_code == 400
    wrong_type = requests.post(post, data=b"x", headers={"content-type": "image/png"})
    assert wrong_type.status_code == 415
    assert requests.get(f"{url}/api/blocks?limit=0").status_code == 400


def test_deeply_nested_json_is_refused_and_the_node_lives_on(node: EtmNodeProcess) -> None:
    """The CLI process imports web3, whose py_ecc raises the recursion limit to 100,000: a
    deeply nested body once overflowed the C stack of json.loads and killed the node."""
    client = node.client
    assert client is not None
    headers = {
        "content-type": "application/json",
        "authorization": f"Bearer {client.admin_token}",
    }
    for path in ("/api/transactions", "/api/admin/forging"):
        deep = requests.post(f"{client.url}{path}", data=b"[" * 200_000, headers=headers)
        assert deep.status_code == 400 and "flat JSON object" in deep.json()["error"]["message"]
    assert client.status()["height"] >= 0


def test_admin_endpoints_need_the_token(node: EtmNodeProcess) -> None:
    client = node.client
    assert client is not None
    stranger = NodeClient(client.url, admin_token="x" * 32)
    with pytest.raises(NodeUnavailableError, match="admin token"):
        stranger.set_forging(False)
    assert requests.get(f"{client.url}/api/admin/forging").status_code == 401
    assert client.set_forging(False)["enabled"] is False
    height = client.status()["height"]
    time.sleep(2.5)
    assert client.status()["height"] == height  # no forging while disabled
    assert client.set_forging(True)["enabled"] is True
    client.wait_for_height(height + 1, timeout_s=10)
    keys = json.loads((node.data_dir / "forging_keys.json").read_text())["seeds"]
    assert len(client.forging_status()["publicKeys"]) == len(keys) == DELEGATES
