"""Two swap-CLI parties on real nodes, shared by the swap CLI tests: a user and an operator, each
an engine home (a ``wallet`` keystore and a config.toml for Bitcoin regtest and anvil) paying the
same freshly deployed HTLC contract. The user's leg is Bitcoin (long), the operator's is anvil."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from eth_account import Account
from etm_bridge_cli.main import cli as _main
from etm_bridge_ethereum import deploy_contract

from etm_bridge.wallet import UNSAFE_FAST_KDF, create_keystore

PASS = "correct horse battery staple"


def home(tmp_path: Path, name: str, bitcoin_node, anvil_node, htlc) -> tuple[Path, Any]:
    """A new engine home ``tmp_path/name`` and its wallet's public keys."""
    path = tmp_path / name
    path.mkdir()
    keystore = create_keystore(path / "keystore.json", PASS, kdf=UNSAFE_FAST_KDF)
    (path / "config.toml").write_text(
        'keystore = "keystore.json"\n'
        "[chains.btc]\n"
        'adapter = "bitcoin"\n'
        f'rpc_url = "{bitcoin_node.rpc_url}"\n'
        f'rpc_user = "{bitcoin_node.rpc_user}"\n'
        f'rpc_password = "{bitcoin_node.rpc_password}"\n'
        f'data_dir = "{path / "btc"}"\n'
        f"birth_height = {bitcoin_node.height()}\n"
        "[chains.eth]\n"
        'adapter = "ethereum"\n'
        f'rpc_url = "{anvil_node.rpc_url}"\n'
        f'htlc_address = "{htlc.address}"\n'
        f'data_dir = "{path / "eth"}"\n'
        f"from_block = {htlc.block_number}\n"
        "[policy]\n"
        "leg_margin_s = 3600\n"
        "retry_after_s = 0\n"
        # a 1 h counter leg: reveal with 10 min left, accept counter locks from 30 min
        "reveal_margin_s = 600\n"
        "min_counter_lock_s = 1800\n"
    )
    return path, keystore.public


def cli(*args, ok: bool = True) -> str:
    """The CLI's output; asserts it exited 0 (``ok``) or not."""
    result = CliRunner().invoke(_main, [str(a) for a in args], env={"ETM_BRIDGE_PASSPHRASE": PASS})
    assert (result.exit_code == 0) is ok, result.output
    return result.output


@dataclass(frozen=True)
class Parties:
    user_home: Path
    user: Any  # the user's wallet public keys (.btc, .eth)
    op_home: Path
    op: Any
    htlc: Any  # the deployed HTLC contract (.address, .block_number)

    def start_args(self) -> tuple[str, ...]:
        """``swap start``: the user pays 0.01 BTC (3 h) for the operator's 0.5 ETH (1 h)."""
        return (
            *("swap", "start", "btc", "eth", "0.01", "--receive", "0.5"),
            *("--their-claim-key", self.op.btc.public_key.hex()),
            *("--their-refund-key", self.op.eth.address, "--hours", "3", "--counter-hours", "1"),
            *("--home", str(self.user_home)),
        )


def two_parties(
    bitcoin_node, anvil_node, tmp_path: Path, *, user_sat: int, user_wei: int, op_wei: int = 0
) -> Parties:
    """Mature coinbase, a new HTLC contract, homes ``user`` and ``op``; the user's BTC address
    paid ``user_sat`` (confirmed) and the ETH balances set (``0``: left as they are)."""
    if bitcoin_node.height() < 101:
        bitcoin_node.mine(101 - bitcoin_node.height())
    deployer = "0x" + secrets.token_hex(32)
    anvil_node.rpc.call("anvil_setBalance", Account.from_key(deployer).address, hex(10**20))
    htlc = deploy_contract(anvil_node.rpc_url, deployer, tmp_path / "deployer")
    user_home, user = home(tmp_path, "user", bitcoin_node, anvil_node, htlc)
    op_home, op = home(tmp_path, "op", bitcoin_node, anvil_node, htlc)
    bitcoin_node.fund(user.btc.address("regtest"), user_sat, confirm=False)
    bitcoin_node.mine(1)
    for who, wei in ((user, user_wei), (op, op_wei)):
        if wei:
            anvil_node.rpc.call("anvil_setBalance", who.eth.address, hex(wei))
    return Parties(user_home, user, op_home, op, htlc)
