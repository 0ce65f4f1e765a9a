"""Issue 11 item 3 on a real node process: one hostile transaction must not kill or stall it.

Before the fix, payloads were decoded before the signature and fee were checked, and importing
eth_account (py_ecc) had raised Python's recursion limit to 100,000: a payload of 400,000 ``[``
with a zero signature made ``json.loads`` overflow the C stack (SIGSEGV), and a deeply nested RLP
relay payload took tens of seconds (quadratic) before failing. Each attack is sent through
``POST /api/transactions``, unsigned and then signed by a funded account with its fee (so the
decoders' own depth caps are exercised too); the node must answer 400 with a clear reason, then
keep answering and forging.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
from etm_bridge_regtest.etm_process import EtmNodeProcess, etm_node_in

from etm_bridge.chain.address import address_hash
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.tx import Tx
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.chains.ethereum.etm.relay_types import ETH_RECEIPT_PROOF, ETH_RELAY_HEADERS
from etm_bridge.chains.ethereum.hostile import flat_rlp, nested_rlp
from etm_bridge.exchange.txtypes import POOL_CREATE
from etm_bridge.testing.hostile import nested_json
from etm_bridge.units import ETM

#: Generous: the fixed node answers in milliseconds; the unfixed one crashed or took > 40 s.
ANSWER_WITHIN_S = 10.0


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtmNodeProcess]:
    home = tmp_path_factory.mktemp("hostile") / "node"
    with etm_node_in(home, delegates=1, block_time_s=1, funded_accounts=1) as proc:
        yield proc


def _post(node: EtmNodeProcess, raw: bytes) -> tuple[int, dict, float]:
    assert node.client is not None
    started = time.monotonic()
    reply = requests.post(
        node.client.url + "/api/transactions",
        data=raw,
        headers={"Content-Type": "application/octet-stream"},
        timeout=ANSWER_WITHIN_S,
    )
    return reply.status_code, reply.json(), time.monotonic() - started


def _unsigned(node: EtmNodeProcess, type_id: int, payload: bytes) -> bytes:
    client = node.client
    assert client is not None
    key = dev_key("user-0")
    # the account's nonce: admission checks nonce and balance before the signature (review a13d)
    nonce = client.account(client_address(key))["nonce"]
    network = client.status()["networkId"]
    return Tx(network, type_id, key.public_key, nonce, 10**12, payload, bytes(64)).encoded


def _signed(node: EtmNodeProcess, type_id: int, payload: bytes) -> bytes:
    client = node.client
    assert client is not None
    key = dev_key("user-0")
    nonce = client.account(client_address(key))["nonce"]
    fee = 10_000 + 10 * (len(payload) + 200)
    tx = Tx.create(
        key, network=client.status()["networkId"], type_id=type_id, nonce=nonce, fee=fee,
        payload=payload,
    )  # fmt: skip
    return tx.encoded


def client_address(key: object) -> str:
    from etm_bridge.chain.address import encode_address

    return encode_address(address_hash(key.public_key))  # type: ignore[attr-defined]


def _assert_alive_and_forging(node: EtmNodeProcess) -> None:
    client = node.client
    assert client is not None
    assert node.proc is not None and node.proc.poll() is None, node.log_tail()
    start = client.status()["height"]
    alice, bob = dev_key("user-0"), dev_key("user-1")
    nonce = client.account(client_address(alice))["nonce"]
    payload = TransferPayload(address_hash(bob.public_key), ETM).encode()
    tx = Tx.create(alice, network=client.status()["networkId"], type_id=TRANSFER, nonce=nonce,
                   fee=100_000, payload=payload)  # fmt: skip
    sent = client.submit_tx(tx.encoded)["id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if client.transaction(sent)["status"] == "confirmed":
            assert client.status()["height"] > start
            return
        time.sleep(0.1)
    raise AssertionError(f"transfer not forged after the attack:\n{node.log_tail()}")


@pytest.mark.parametrize(
    ("what", "type_id", "payload", "cap"),
    [
        ("400,000 [ in a JSON payload", POOL_CREATE, nested_json(400_000), "arrays/objects"),
        ("120,000-deep RLP relay headers", ETH_RELAY_HEADERS, nested_rlp(120_000), "deep"),
        ("120,000-deep RLP receipt proof", ETH_RECEIPT_PROOF, nested_rlp(120_000), "deep"),
        ("1,000,000 one-byte RLP items", ETH_RELAY_HEADERS, flat_rlp(1_000_000), "items"),
    ],
)
def test_hostile_payload_is_refused_with_a_reason_and_the_node_lives_on(
    node: EtmNodeProcess, what: str, type_id: int, payload: bytes, cap: str
) -> None:
    assert len(payload) < 1 << 20, what
    status, body, _ = _post(node, _unsigned(node, type_id, payload))
    assert status == 400, (what, body)
    assert body["error"]["code"] == "bad_signature", (what, body)

    status, body, _ = _post(node, _signed(node, type_id, payload))
    assert status == 400, (what, body)
    assert body["error"]["code"] == "malformed_field", (what, body)
    assert cap in body["error"]["message"], (what, body)

    _assert_alive_and_forging(node)
