"""pytest session fixtures that start THROWAWAY real nodes (loaded by tests/conftest.py).

Each fixture starts its node once per test session, on free loopback ports below 32768 with a
temporary datadir (bcoin: in memory), and stops its whole process group at session end. They
never touch the developer's stack (``etm-bridge stack up``) or its fixed ports. When a test that
used a node fails, the node's log tail is added to the report ("bitcoin_node log" section).

``bitcoin_node`` -> :class:`etm_bridge_regtest.bitcoin.BitcoinNode`
    .kind            "bitcoind" (Bitcoin Core found via $BITCOIND or PATH) or "bcoin"
    .network         "regtest"
    .rpc             JsonRpcClient (JSON-RPC 1.0, basic auth); node AND wallet RPCs on one URL
    .rpc_url         "http://127.0.0.1:<port>"
    .rpc_user, .rpc_password
    .log_path        Path of the node's log;  .log_tail(lines=40) -> str
    .faucet_address() -> str     the node wallet's bech32 (bcrt1q...) address, mined coins go here
    .mine(n, address=None) -> list[str]   block hashes (default address: the faucet)
    .height() -> int
    .fund(address, amount_sat, confirm=True) -> str txid   pay from the faucet wallet (mines
                     the first 101 blocks if needed, then 1 block to confirm)
    The chain starts at height 0 (genesis only): mine before spending. The node is shared by the
    whole session, so never assume a height or a mempool state another test may have changed.
    Only use RPCs both bitcoind and bcoin answer, and raw hex rather than verbose JSON:
    ``getrawtransaction txid 0``, ``getblock hash 0``, ``getblockheader hash false`` all return hex
    on both. Errors map to classes: -22 RPCDeserializationError, -25 RPCMissingInputsError,
    -26 RPCVerifyRejectedError, -27 RPCAlreadyInChainError, -5 RPCInvalidAddressOrKeyError.
    ``etm_bridge_regtest.ownkey.OwnKey`` builds and signs P2WPKH spends with our own key.

``hsd_node`` -> :class:`etm_bridge_regtest.hsd.HsdNode` (Handshake regtest, hsd 8 in memory)
    .rpc             JsonRpcClient on the node's HTTP port;  .wallet  the same for its wallet
    .rpc_url, .api_key   what a HandshakeAdapter config needs (rpc_url, rpc_password)
    .mine(n, address=None) -> list[str]; .height() -> int; .mempool() -> list[str]
    .fund(address, amount_doo, confirm=True) -> str txid   pay from the wallet (amounts in doo,
                     1 HNS = 10^6); waits until the tx is in the mempool (hsd relays async)
    .log_path, .log_tail(lines=40) -> str   (the node logs at debug level: rejection reasons)

``anvil_node`` -> :class:`etm_bridge_regtest.anvil.AnvilNode`
    .rpc             JsonRpcClient (JSON-RPC 2.0)
    .rpc_url         "http://127.0.0.1:<port>" (give it to web3.HTTPProvider)
    .chain_id        31337
    .mnemonic        anvil's development mnemonic
    .private_keys    list[str], 10 x "0x..." keys of the prefunded accounts (10 000 ETH each)
    .accounts        list[str], their checksummed addresses (same order)
    .balance_wei(address) -> int
    .send_transaction(private_key, to, *, value_wei=0, data=b"", gas=300_000) -> receipt dict
                     EIP-1559, signed locally with eth-account; to=None deploys ``data``
    .log_path, .log_tail(lines=40) -> str
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest

from .anvil import AnvilNode
from .bitcoin import BitcoinNode
from .hsd import HsdNode
from .throwaway import anvil_node_in, bitcoin_node_in, hsd_node_in

_NODE_FIXTURES = ("bitcoin_node", "anvil_node", "hsd_node")


@pytest.fixture(scope="session")
def bitcoin_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BitcoinNode]:
    """A throwaway Bitcoin regtest node for the whole session (see module docstring)."""
    with bitcoin_node_in(tmp_path_factory.mktemp("bitcoin")) as node:
        yield node


@pytest.fixture(scope="session")
def anvil_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnvilNode]:
    """A throwaway anvil for the whole session (see module docstring)."""
    with anvil_node_in(tmp_path_factory.mktemp("anvil")) as node:
        yield node


@pytest.fixture(scope="session")
def hsd_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HsdNode]:
    """A throwaway hsd (Handshake) regtest node for the whole session (see module docstring)."""
    with hsd_node_in(tmp_path_factory.mktemp("hsd")) as node:
        yield node


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Append the log tail of every node fixture the failed test used."""
    report = yield
    if report.failed:
        funcargs = getattr(item, "funcargs", {})
        for name in _NODE_FIXTURES:
            node = funcargs.get(name)
            if node is not None:
                report.sections.append((f"{name} log ({node.log_path})", node.log_tail()))
    return report
