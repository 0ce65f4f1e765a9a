"""``node init`` options of the Ethereum relay, and its checkpoint read from a node (I/O).

``--eth-rpc URL`` starts the relay at that node's latest block (a trusted checkpoint), with the
ETM keys trusted to relay headers (``--eth-relayer``; default the dev key ``user-0``: UNSAFE),
the ``EtherSwapHTLC`` whose locks count (``--eth-htlc``), the confirmation floor
(``--eth-confirmations``) and the pool operators' ``PoolVault`` addresses (``--eth-vault
OPERATOR=VAULT``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from etm_bridge.chains.profile import NodeInitSpec, OptionSpec
from etm_bridge.errors import ConfigError, ValidationError

if TYPE_CHECKING:
    from .etm.genesis import EthRelayGenesis

RPC = OptionSpec("--eth-rpc", "Start the Ethereum relay at this node's latest block.")
RELAYER = OptionSpec(
    "--eth-relayer",
    "ETM public key (hex) trusted to relay Ethereum headers; default dev user-0 (UNSAFE).",
    multiple=True,
)
HTLC = OptionSpec("--eth-htlc", "EtherSwapHTLC address whose locks count (0x...).", default="")
CONFIRMATIONS = OptionSpec("--eth-confirmations", "", default=1, type=int)
VAULT = OptionSpec(
    "--eth-vault",
    "OPERATOR=VAULT: the PoolVault whose events prove that ETH pool operator's deposits.",
    multiple=True,
)


def hex_bytes(text: str, what: str, length: int) -> bytes:
    try:
        raw = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise ValidationError(f"{what} is not hex: {text!r}") from None
    if len(raw) != length:
        raise ValidationError(f"{what} must be {length} bytes, got {len(raw)}")
    return raw


def vault_pair(text: str) -> tuple[bytes, bytes]:
    operator, sep, vault = text.partition("=")
    if not sep:
        raise ValidationError(
            f"--eth-vault must be OPERATOR=VAULT (two 0x addresses), got {text!r}"
        )
    return hex_bytes(operator, "--eth-vault operator", 20), hex_bytes(
        vault, "--eth-vault vault", 20
    )


def relay_genesis_from_node(
    rpc_url: str,
    *,
    relayers: tuple[bytes, ...],
    htlc_contract: bytes = b"",
    chain: str = "anvil",
    confirmations: int = 1,
    block: int | str = "latest",
    pool_vaults: tuple[tuple[bytes, bytes], ...] = (),
) -> EthRelayGenesis:
    """An Ethereum relay whose trusted checkpoint is ``block`` of the node at ``rpc_url``.

    ``relayers``: ETM public keys allowed to submit headers (the relay's trust model, see
    docs/spv.md); ``htlc_contract``: the 20-byte EtherSwapHTLC whose ``Locked`` events the
    exchange accepts (empty: receipt proofs only, no Ethereum pool proofs); ``pool_vaults``:
    (operator address, PoolVault address) pairs whose Deposited/Paid events prove ETH pool
    deposits and obligation payments (20 bytes each).
    """
    from etm_bridge.jsonrpc import JsonRpcClient

    from .etm.genesis import EthRelayGenesis
    from .spv.headers import ETH_NETWORKS
    from .spv.rlp import encode_checked_header

    if chain not in ETH_NETWORKS:
        raise ConfigError(f"unknown Ethereum relay chain {chain!r}; known: {sorted(ETH_NETWORKS)}")
    if not relayers or any(len(k) != 32 for k in relayers):
        raise ConfigError("the Ethereum relay needs at least one 32-byte ETM relayer public key")
    if htlc_contract and len(htlc_contract) != 20:
        raise ConfigError("the Ethereum HTLC contract address must be 20 bytes")
    if any(len(op) != 20 or len(vault) != 20 for op, vault in pool_vaults):
        raise ConfigError("pool vaults must be pairs of 20-byte operator and vault addresses")
    rpc = JsonRpcClient(rpc_url, version="2.0", timeout_s=10.0)
    try:
        tag = hex(block) if isinstance(block, int) else block
        found = rpc.call("eth_getBlockByNumber", tag, False)
    finally:
        rpc.close()
    if not found:
        raise ConfigError(f"the Ethereum node at {rpc_url} has no block {block}")
    return EthRelayGenesis(
        chain=chain,
        checkpoint_rlp=encode_checked_header(found),
        relayers=tuple(relayers),
        min_confirmations=confirmations,
        htlc_contract=htlc_contract,
        pool_vaults=tuple(pool_vaults),
    )


def build(values: Mapping[str, Any]) -> EthRelayGenesis | None:
    """The relay ``--eth-rpc`` and its companions ask for (None without ``--eth-rpc``)."""
    rpc_url = values.get(RPC.dest)
    if not rpc_url:
        return None
    keys: Sequence[str] = values.get(RELAYER.dest) or ()
    relayers = [hex_bytes(k, "--eth-relayer", 32) for k in keys]
    if not relayers:
        from etm_bridge.chain.keys import dev_key

        relayers = [dev_key("user-0").public_key]
    htlc = values.get(HTLC.dest) or ""
    return relay_genesis_from_node(
        str(rpc_url),
        relayers=tuple(relayers),
        htlc_contract=hex_bytes(htlc, "--eth-htlc", 20) if htlc else b"",
        confirmations=int(values.get(CONFIRMATIONS.dest) or 1),
        pool_vaults=tuple(vault_pair(v) for v in values.get(VAULT.dest) or ()),
    )


def summary(values: Mapping[str, Any], cfg: EthRelayGenesis | None) -> dict[str, Any]:
    return {"ethRelay": cfg is not None}


NODE_INIT = NodeInitSpec(
    options=(RPC, RELAYER, HTLC, CONFIRMATIONS, VAULT), build=build, summary=summary
)
