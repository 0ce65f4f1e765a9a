"""A newcomer's swap with the CLI alone, on real nodes: two wallets (`wallet` keystores), two
engine homes with a config.toml each, `swap start` / `swap accept` / `watch`, then `swap
status` and `swap list`. Bitcoin regtest is the user's (long) leg, anvil the operator's."""

from __future__ import annotations

import json
import secrets

from click.testing import CliRunner
from eth_account import Account
from etm_bridge_cli.main import cli
from etm_bridge_ethereum import deploy_contract

from etm_bridge.wallet import UNSAFE_FAST_KDF, create_keystore

PASS = "correct horse battery staple"


def _home(tmp_path, name, bitcoin_node, anvil_node, htlc):
    home = tmp_path / name
    home.mkdir()
    keystore = create_keystore(home / "keystore.json", PASS, kdf=UNSAFE_FAST_KDF)
    (home / "config.toml").write_text(
        'keystore = "keystore.json"\n'
        "[chains.btc]\n"
        'adapter = "bitcoin"\n'
        f'rpc_url = "{bitcoin_node.rpc_url}"\n'
        f'rpc_user = "{bitcoin_node.rpc_user}"\n'
        f'rpc_password = "{bitcoin_node.rpc_password}"\n'
        f'data_dir = "{home / "btc"}"\n'
        f"birth_height = {bitcoin_node.height()}\n"
        "[chains.eth]\n"
        'adapter = "ethereum"\n'
        f'rpc_url = "{anvil_node.rpc_url}"\n'
        f'htlc_address = "{htlc.address}"\n'
        f'data_dir = "{home / "eth"}"\n'
        f"from_block = {htlc.block_number}\n"
        "[policy]\n"
        "leg_margin_s = 3600\n"
        "retry_after_s = 0\n"
        # a 1 h counter leg: reveal with 10 min left, accept counter locks from 30 min
        "reveal_margin_s = 600\n"
        "min_counter_lock_s = 1800\n"
    )
    return home, keystore.public


def _cli(*args, ok=True):
    result = CliRunner().invoke(cli, [str(a) for a in args], env={"ETM_BRIDGE_PASSPHRASE": PASS})
    assert (result.exit_code == 0) is ok, result.output
    return result.output


def test_a_swap_with_the_cli_alone_on_real_nodes(bitcoin_node, anvil_node, tmp_path) -> None:
    if bitcoin_node.height() < 101:
        bitcoin_node.mine(101 - bitcoin_node.height())
    deployer = "0x" + secrets.token_hex(32)
    anvil_node.rpc.call("anvil_setBalance", Account.from_key(deployer).address, hex(10**20))
    htlc = deploy_contract(anvil_node.rpc_url, deployer, tmp_path / "deployer")
    user_home, user = _home(tmp_path, "user", bitcoin_node, anvil_node, htlc)
    op_home, op = _home(tmp_path, "op", bitcoin_node, anvil_node, htlc)
    bitcoin_node.fund(user.btc.address("regtest"), 3_000_000, confirm=False)
    bitcoin_node.mine(1)
    for who in (user, op):
        anvil_node.rpc.call("anvil_setBalance", who.eth.address, hex(10**19))

    started = json.loads(
        _cli(
            "swap",
            "start",
            "btc",
            "eth",
            "0.01",
            "--receive",
            "0.5",
            "--their-claim-key",
            op.btc.public_key.hex(),
            "--their-refund-key",
            op.eth.address,
            "--hours",
            "3",
            "--counter-hours",
            "1",
            "--home",
            user_home,
            "--json",
        )
    )
    swap_id = started["swap_id"]
    assert started["terms"]["user_leg"]["amount"]["base_units"] == "1000000"  # 0.01 BTC in sat
    assert started["terms"]["counter_leg"]["amount"]["base_units"] == str(
        5 * 10**17
    )  # 0.5 ETH in wei
    (tmp_path / "terms.json").write_text(json.dumps(started))
    _cli("swap", "accept", tmp_path / "terms.json", "--home", op_home)
    for _ in range(40):
        states = {
            json.loads(_cli("swap", "status", swap_id, "--home", h, "--json"))["state"]
            for h in (user_home, op_home)
        }
        if states == {"claimed_both"}:
            break
        for home in (user_home, op_home):
            _cli("watch", "--ticks", "1", "--interval", "0", "--home", home)
        bitcoin_node.mine(1)
        anvil_node.rpc.call("anvil_mine", "0x1")
    assert states == {"claimed_both"}
    listed = json.loads(_cli("swap", "list", "--home", op_home, "--json"))
    assert [(r["swap_id"], r["role"], r["state"]) for r in listed] == [
        (swap_id, "operator", "claimed_both")
    ]
    text = _cli("swap", "explain", swap_id, "--home", user_home)
    assert "claimed_both" in text and "actions now: none" in text
    refused = _cli("swap", "refund", swap_id, "--home", user_home, ok=False)
    assert refused.startswith("error: ") and len(refused.strip().splitlines()) == 1
