"""Deploy the project's contracts (the HTLC, the test token) from a local key.

Used by the integration tests, the regtest stack and the demo::

    htlc = deploy_contract(rpc_url, private_key, data_dir, "EtherSwapHTLC")
    token = deploy_contract(rpc_url, private_key, data_dir, "TestToken",
                            ("Test Token", "TST", 10**24))

The transaction goes through the same sender as the adapter's (EIP-1559, persistent nonces,
receipt timeout), and the deployed runtime code is compared with the artifact's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_abi import encode
from eth_account import Account
from eth_utils import to_checksum_address

from etm_bridge.chains.ethereum.spv.rlp import to_bytes, to_int
from etm_bridge.errors import ChainError, ValidationError

from . import artifacts
from .htlc import HtlcCodec
from .node import EthNode
from .nonces import NonceManager
from .revert import error_table
from .sender import TxSender


@dataclass(frozen=True)
class Deployment:
    """Where a contract was deployed. ``block_number`` is a good ``from_block`` for scans."""

    name: str
    address: str  # checksummed
    tx_hash: str
    block_number: int


def _constructor_args(abi: tuple[dict[str, Any], ...], args: tuple[Any, ...]) -> bytes:
    inputs: list[dict[str, Any]] = next(
        (e["inputs"] for e in abi if e.get("type") == "constructor"), []
    )
    if len(inputs) != len(args):
        raise ValidationError(f"constructor takes {len(inputs)} arguments, got {len(args)}")
    return encode([i["type"] for i in inputs], list(args)) if inputs else b""


def deploy_contract(
    rpc_url: str,
    private_key: str,
    data_dir: Path | str,
    name: str = artifacts.HTLC,
    args: tuple[Any, ...] = (),
    receipt_timeout_s: float = 60.0,
) -> Deployment:
    """Deploy contract ``name`` (an artifact name) with constructor ``args``."""
    artifact = artifacts.load(name)
    node = EthNode(rpc_url, error_table(HtlcCodec().abis))
    try:
        account = Account.from_key(private_key)
        chain_id = node.chain_id()
        nonces = NonceManager(
            Path(data_dir),
            chain_id,
            account.address,
            pending_count=lambda: node.nonce(account.address, "pending"),
            tx_known=lambda tx_hash: node.transaction(tx_hash) is not None,
        )
        sender = TxSender(node, account, nonces, chain_id, receipt_timeout_s)
        code = to_bytes(artifact.bytecode, "bytecode") + _constructor_args(artifact.abi, args)
        receipt = sender.transact(None, code, 0, f"deploy {name}")
        address = to_checksum_address(receipt["contractAddress"])
        if node.code(address) != to_bytes(artifact.deployed_bytecode, "deployedBytecode"):
            raise ChainError(f"code at {address} differs from the {name} artifact")
        return Deployment(
            name, address, receipt["transactionHash"], to_int(receipt["blockNumber"], "block")
        )
    finally:
        node.close()
