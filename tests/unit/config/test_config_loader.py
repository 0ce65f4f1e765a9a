"""One config: defaults < the stack's client.toml (regtest) < the file < environment < options;
legacy tables still read with a note; a bad value names its key and where it came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from etm_bridge.config import SETTINGS, env_name, load_config
from etm_bridge.errors import ConfigError
from etm_bridge.swaps.core.policy import PolicyConfig
from etm_bridge.wallet import UnlockedWallet
from etm_bridge.wallet.keystore import DEFAULT_KDF

STACK = """
[etm]
url = "http://127.0.0.1:26657"
admin_token = "tok"
[chains.bitcoin]
rpc_url = "http://127.0.0.1:18443"
rpc_user = "etm"
rpc_password = "pw"
network = "regtest"
birth_height = 0
[chains.ethereum]
rpc_url = "http://127.0.0.1:8545"
htlc_address = "0xabababababababababababababababababababab"
from_block = 5
[policy]
retry_after_s = 2
user_proof_delay_blocks = 0
"""


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An environment isolated from the developer's stack, home and config files."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    return {"ETM_STACK_DIR": str(tmp_path / "stack")}


def _stack(env: dict[str, str], text: str = STACK) -> Path:
    path = Path(env["ETM_STACK_DIR"]) / "client.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)
    return path


def _toml(tmp_path: Path, text: str, name: str = "conf") -> Path:
    path = tmp_path / name / "config.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def _load(env: dict[str, str], tmp_path: Path, **kw):
    return load_config(env=env, cwd=tmp_path, **kw)


def test_defaults_without_any_source(env: dict[str, str], tmp_path: Path) -> None:
    config = _load(env, tmp_path)
    assert config.home.root == tmp_path / "xdg-data" / "etm-bridge"
    assert config.network == "regtest"
    assert config.keystore_path == config.home.root / "keystore.json"
    assert config.etm_url is None and config.get("etm.url") is None
    assert config.chain_names == () and config.swap_chains() == ()
    assert config.policy == PolicyConfig()
    assert (config.kdf().opslimit, config.kdf().memlimit_bytes) == (
        DEFAULT_KDF.opslimit,
        DEFAULT_KDF.memlimit_bytes,
    )
    assert config.notes == ()


def test_the_stack_supplies_regtest_endpoints_policy_and_the_etm_leg(
    env: dict[str, str], tmp_path: Path
) -> None:
    stack = _stack(env)
    config = _load(env, tmp_path)
    assert config.etm_url == "http://127.0.0.1:26657"
    assert config.sources["etm.url"] == f"the local stack's {stack}"
    assert config.swap_chains() == ("bitcoin", "ethereum", "etm")
    assert config.policy == PolicyConfig(retry_after_s=2, user_proof_delay_blocks=0)
    kind, btc = config.chain_options("bitcoin")
    assert kind == "bitcoin"
    assert (btc["rpc_url"], btc["rpc_user"], btc["rpc_password"]) == (
        "http://127.0.0.1:18443",
        "etm",
        "pw",
    )
    assert (btc["network"], btc["birth_height"]) == ("regtest", 0)
    assert btc["data_dir"] == str(config.home.root / "bitcoin")  # under the home
    _, eth = config.chain_options("ethereum")
    assert (eth["htlc_address"], eth["from_block"]) == ("0x" + "ab" * 20, 5)
    assert config.chain_options("etm") == ("etm", {"url": "http://127.0.0.1:26657"})
    described = config.describe()
    assert described["chains.bitcoin.rpc_password"]["value"] == "***"
    assert described["etm.admin_token"]["value"] == "***"
    assert described["etm.url"]["value"] == "http://127.0.0.1:26657"


def test_the_stack_is_ignored_off_regtest(env: dict[str, str], tmp_path: Path) -> None:
    _stack(env)
    config = _load({**env, "ETM_BRIDGE_NETWORK": "testnet"}, tmp_path)
    assert config.network == "testnet"
    assert config.etm_url is None and config.chain_names == ()
    path = _toml(tmp_path, 'network = "mainnet"\n')
    assert _load(env, tmp_path, config_file=path).chain_names == ()
    assert _load(env, tmp_path, options={"network": ("signet", "option --network")}).network == (
        "signet"
    )


def test_without_a_stack_dir_the_stack_is_read_from_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    _stack({"ETM_STACK_DIR": str(tmp_path / ".etm" / "stack")})
    assert load_config(env={}, cwd=tmp_path).etm_url == "http://127.0.0.1:26657"
    assert load_config(env={}, cwd=tmp_path / "elsewhere").etm_url is None


def test_precedence_file_over_stack_env_over_file_option_over_env(
    env: dict[str, str], tmp_path: Path
) -> None:
    _stack(env)
    path = _toml(
        tmp_path,
        'keystore = "keys/wallet.json"\n[etm]\nurl = "http://toml:1"\n'
        '[chains.bitcoin]\nrpc_url = "http://toml:2"\nbirth_height = 7\n'
        "[policy]\nleg_margin_s = 3600\n",
    )
    env = {
        **env,
        "ETM_BRIDGE_BITCOIN_RPC_URL": "http://env:3",
        "ETM_BRIDGE_POLICY_RETRY_AFTER_S": "9",
        "ETM_BRIDGE_CONFIG": str(path),
    }
    config = _load(env, tmp_path, options={"network": ("regtest", "option --network")})
    assert config.get("chains.bitcoin.rpc_url") == "http://env:3"
    assert (
        config.sources["chains.bitcoin.rpc_url"]
        == "environment variable ETM_BRIDGE_BITCOIN_RPC_URL"
    )
    assert config.etm_url == "http://toml:1"
    _, btc = config.chain_options("bitcoin")
    assert btc["birth_height"] == 7
    assert btc["rpc_user"] == "etm"  # still from the stack
    assert config.policy.leg_margin_s == 3600  # the file
    assert config.policy.retry_after_s == 9  # the environment, as an integer
    assert config.policy.user_proof_delay_blocks == 0  # the stack
    assert config.keystore_path == path.parent / "keys" / "wallet.json"  # relative to the file
    assert config.sources["network"] == "option --network"
    keystore = _load(env, tmp_path, options={"keystore": ("/k.json", "option --keystore")})
    assert keystore.keystore_path == Path("/k.json")


def test_the_home_config_file_is_read_and_relative_data_dirs_are_relative_to_it(
    env: dict[str, str], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        '[chains.fakebtc]\nadapter = "fake"\nchain = "x"\ndata_dir = "btc-data"\n'
    )
    config = _load(env, tmp_path, home=home)
    assert config.file == home / "config.toml"
    kind, options = config.chain_options("fakebtc")
    assert kind == "fake" and options == {"chain": "x", "data_dir": str(home / "btc-data")}


def test_legacy_tables_are_read_with_a_note(env: dict[str, str], tmp_path: Path) -> None:
    path = _toml(
        tmp_path,
        'data_dir = "mine"\n[bitcoin]\nrpc_url = "http://old:1"\n'
        '[chains.etm]\nurl = "http://old-etm:2"\ndata_dir = "ignored"\n',
    )
    config = _load(env, tmp_path, config_file=path)
    assert config.get("chains.bitcoin.rpc_url") == "http://old:1"
    assert config.etm_url == "http://old-etm:2"
    assert config.chain_names == ("bitcoin",)
    assert config.home.root == path.parent / "mine"
    assert config.home.source == f"data_dir in config file {path}"
    assert len(config.notes) == 3 and all("deprecated" in n for n in config.notes)
    assert any("[chains.bitcoin]" in n for n in config.notes)
    assert any("[etm] url" in n for n in config.notes)


def test_a_legacy_etm_table_with_a_foreign_key_is_refused(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = _toml(tmp_path, '[chains.etm]\nurl = "http://x"\nrpc_user = "u"\n')
    with pytest.raises(ConfigError, match=r"unknown key 'chains\.etm\.rpc_user'.*\[etm\]"):
        _load(env, tmp_path, config_file=path)


def test_the_old_config_location_is_read_with_a_note(env: dict[str, str], tmp_path: Path) -> None:
    legacy = tmp_path / "xdg-config" / "etm-bridge" / "config.toml"
    legacy.parent.mkdir(parents=True)
    legacy.write_text('network = "signet"\n')
    config = _load(env, tmp_path)
    assert config.network == "signet" and config.file == legacy
    assert config.notes == (
        f"reading {legacy} (the old config location): move it to {config.home.config_path}",
    )
    config.home.root.mkdir(parents=True)
    config.home.config_path.write_text('network = "testnet"\n')
    assert _load(env, tmp_path).network == "testnet"  # the home's file wins, no note
    assert _load(env, tmp_path).notes == ()


def test_unknown_fixed_key_names_key_and_file(env: dict[str, str], tmp_path: Path) -> None:
    path = _toml(tmp_path, '[etm]\nurll = "x"\n')
    with pytest.raises(ConfigError, match=f"unknown key 'etm.urll' in config file {path}; known"):
        _load(env, tmp_path, config_file=path)
    path = _toml(tmp_path, '[nonsense]\nx = "y"\n', "other")
    with pytest.raises(ConfigError, match="unknown key 'nonsense'"):
        _load(env, tmp_path, config_file=path)


def test_unknown_chain_key_is_named_against_the_adapters_declared_keys(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = _toml(tmp_path, '[chains.bitcoin]\nrpcurl = "x"\n')
    config = _load(env, tmp_path, config_file=path)  # the adapter is imported on use only
    with pytest.raises(
        ConfigError,
        match=f"unknown key 'chains.bitcoin.rpcurl' in config file {path}; known keys: "
        "chains.bitcoin.adapter",
    ):
        config.chain_options("bitcoin")


def test_an_adapter_without_declared_keys_gets_every_key(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = _toml(tmp_path, '[chains.toy]\nadapter = "fake"\nanything = [1, 2]\n')
    kind, options = _load(env, tmp_path, config_file=path).chain_options("toy")
    assert kind == "fake" and options["anything"] == [1, 2]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[chains.bitcoin]\nbirth_height = "ten"\n',
            r"chains\.bitcoin\.birth_height in config file .* integer",
        ),
        ('[chains.ethereum]\nwait_for_receipts = "maybe"\n', "true or false"),
        ('network = "moon"\n', "network in config file .* must be one of"),
        ("[etm]\nurl = 5\n", "etm.url in config file .* string"),
        ("[policy]\nleg_margin_s = 1.5\n", r"policy\.leg_margin_s in config file .* integer"),
        ("[kdf]\nopslimit = true\n", r"kdf\.opslimit .* integer"),
        ("network = \n", "is not valid TOML"),
        ("[chains]\nfoo = 1\n", r"\[chains\.<name>\] must be tables"),
        ('[chains.kdf]\nx = "y"\n', "'kdf' is reserved"),
        ('[chains."a b"]\nx = "y"\n', "letters, digits"),
        ("[chains.x]\ny = { z = 1 }\n", r"chains\.x\.y .* must be a value"),
        ("[chains.x]\nadapter = 3\n", r"chains\.x\.adapter .* string"),
    ],
)
def test_bad_values_name_key_and_file(
    env: dict[str, str], tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        config = _load(env, tmp_path, config_file=_toml(tmp_path, text))
        for name in config.chain_names:
            config.chain_options(name)


def test_bad_environment_values_name_the_variable(env: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="environment variable ETM_BRIDGE_KDF_OPSLIMIT"):
        _load({**env, "ETM_BRIDGE_KDF_OPSLIMIT": "fast"}, tmp_path)
    with pytest.raises(ConfigError, match="ETM_BRIDGE_POLICY_LEG_MARGIN names no config key"):
        _load({**env, "ETM_BRIDGE_POLICY_LEG_MARGIN": "1"}, tmp_path)
    # `etm` is also an adapter's name, but never a chain table: [etm] has no key `fee`
    with pytest.raises(ConfigError, match="ETM_BRIDGE_ETM_FEE names no config key"):
        _load({**env, "ETM_BRIDGE_ETM_FEE": "1"}, tmp_path)
    config = _load({**env, "ETM_BRIDGE_BITCOIN_BIRTH_HEIGHT": "soon"}, tmp_path)
    with pytest.raises(ConfigError, match="environment variable ETM_BRIDGE_BITCOIN_BIRTH_HEIGHT"):
        config.chain_options("bitcoin")


def test_environment_names_any_configured_chain(env: dict[str, str], tmp_path: Path) -> None:
    path = _toml(tmp_path, '[chains.fake-btc]\nadapter = "fake"\n[chains.fake]\nchain = "a"\n')
    config = _load(
        {**env, "ETM_BRIDGE_FAKE_BTC_CHAIN": "b", "ETM_BRIDGE_FAKE_CHAIN": "c"},
        tmp_path,
        config_file=path,
    )
    assert config.get("chains.fake-btc.chain") == "b"  # the longest name wins
    assert config.get("chains.fake.chain") == "c"
    assert _load({**env, "ETM_BRIDGE_UNRELATED": "x"}, tmp_path).chain_names == ()


def test_an_environment_variable_two_chains_answer_to_is_refused(
    env: dict[str, str], tmp_path: Path
) -> None:
    # attack (r12): [chains.main-btc] and [chains.main_btc] share the variable prefix
    # ETM_BRIDGE_MAIN_BTC_; before, ETM_BRIDGE_MAIN_BTC_CHAIN set whichever came first in a
    # set's order (it changes with hash randomisation): one chain pointed at the other's node.
    text = '[chains.main-btc]\nadapter = "fake"\n[chains.main_btc]\nadapter = "fake"\n'
    path = _toml(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        _load({**env, "ETM_BRIDGE_MAIN_BTC_CHAIN": "x"}, tmp_path, config_file=path)
    text = str(info.value)
    assert "ETM_BRIDGE_MAIN_BTC_CHAIN" in text and "main-btc" in text and "main_btc" in text
    assert _load(env, tmp_path, config_file=path).chain_names  # without it, both load


def test_explicit_missing_config_file_is_an_error(env: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        _load(env, tmp_path, config_file=tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="does not exist"):
        _load({**env, "ETM_BRIDGE_CONFIG": str(tmp_path / "nope.toml")}, tmp_path)


def test_out_of_range_kdf_is_a_config_error_naming_the_source(
    env: dict[str, str], tmp_path: Path
) -> None:
    config = _load({**env, "ETM_BRIDGE_KDF_MEMLIMIT": "1024"}, tmp_path)
    with pytest.raises(
        ConfigError, match=r"kdf\.memlimit from environment variable ETM_BRIDGE_KDF_MEMLIMIT"
    ):
        config.kdf()


def test_an_unknown_chain_says_what_is_configured(env: dict[str, str], tmp_path: Path) -> None:
    _stack(env)
    config = _load(env, tmp_path)
    with pytest.raises(
        ConfigError,
        match=r"chain 'doge' is not configured \(configured: bitcoin, ethereum, etm\); "
        r"add a \[chains\.doge\]",
    ):
        config.chain_options("doge")
    path = _toml(tmp_path, '[chains.x]\nadapter = "nope"\n')
    with pytest.raises(
        ConfigError,
        match=r"chain 'x' \(adapter from config file .*\): no chain adapter named 'nope'",
    ):
        _load(env, tmp_path, config_file=path).chain_options("x")


def test_adapter_options_inject_the_wallet_key_the_adapter_names(
    env: dict[str, str], tmp_path: Path
) -> None:
    _stack(env)
    path = _toml(
        tmp_path, '[chains.mine]\nadapter = "fake"\nkey = "eth"\nsecret_field = "private_key"\n'
    )
    wallet = UnlockedWallet(bytes(range(32)))
    config = _load(env, tmp_path)
    _, btc = config.adapter_options("bitcoin", wallet)
    assert btc["secret_hex"] == wallet.unsafe_export_chain_secret("btc").hex()
    _, eth = config.adapter_options("ethereum", wallet)
    assert eth["private_key"] == "0x" + wallet.unsafe_export_chain_secret("eth").hex()
    assert config.adapter_options("etm", wallet) == (
        "etm",
        {"url": "http://127.0.0.1:26657", "secret_hex": wallet.unsafe_export_etm_seed().hex()},
    )
    _, mine = _load(env, tmp_path, config_file=path).adapter_options("mine", wallet)
    assert mine["private_key"] == "0x" + wallet.unsafe_export_chain_secret("eth").hex()
    bad = _toml(tmp_path, '[chains.mine]\nadapter = "fake"\nkey = "doge"\n', "bad")
    with pytest.raises(
        ConfigError, match=r"chains\.mine\.key 'doge' \(from config file .*\): unknown chain 'doge'"
    ):
        _load(env, tmp_path, config_file=bad).adapter_options("mine", wallet)


def test_a_table_with_the_etm_adapter_is_the_etm_leg(env: dict[str, str], tmp_path: Path) -> None:
    _stack(env)
    path = _toml(tmp_path, '[chains.myetm]\nadapter = "etm"\nurl = "http://mine:1"\n')
    config = _load(env, tmp_path, config_file=path)
    assert "etm" not in config.swap_chains() and "myetm" in config.swap_chains()


def test_every_setting_has_a_distinct_environment_variable() -> None:
    names = [env_name(key) for key in SETTINGS]
    assert len(set(names)) == len(names)
    assert env_name("chains.bitcoin.rpc_url") == "ETM_BRIDGE_BITCOIN_RPC_URL"
    assert env_name("etm.url") == "ETM_BRIDGE_ETM_URL"
    assert env_name("keystore") == "ETM_BRIDGE_KEYSTORE"


@pytest.mark.parametrize(
    ("wallet", "chain"), [("mainnet", "regtest"), ("testnet", "mainnet"), ("mainnet", "testnet")]
)
def test_a_chain_on_a_network_as_real_as_the_wallet_s_or_one_error(
    env: dict[str, str], tmp_path: Path, wallet: str, chain: str
) -> None:
    """Review: a mainnet wallet with `[chains.bitcoin] network = "regtest"` (or the reverse)
    read as given, so addresses and confirmation defaults of one network met coins of the
    other. Now chain_options refuses it, naming both keys and their sources."""
    path = _toml(
        tmp_path,
        f'network = "{wallet}"\n[chains.bitcoin]\nrpc_url = "http://127.0.0.1:1"\n'
        f'network = "{chain}"\n',
    )
    config = _load(env, tmp_path, config_file=path)
    with pytest.raises(
        ConfigError, match=rf"chains\.bitcoin\.network is '{chain}' .* network is '{wallet}'"
    ):
        config.chain_options("bitcoin")


@pytest.mark.parametrize(("wallet", "chain"), [("regtest", "anvil"), ("mainnet", "main")])
def test_test_networks_may_differ_by_name_and_main_is_main(
    env: dict[str, str], tmp_path: Path, wallet: str, chain: str
) -> None:
    path = _toml(
        tmp_path,
        f'network = "{wallet}"\n[chains.ethereum]\nrpc_url = "http://127.0.0.1:1"\n'
        f'network = "{chain}"\n',
    )
    _, options = _load(env, tmp_path, config_file=path).chain_options("ethereum")
    assert options["network"] == chain


@pytest.mark.parametrize("wallet", ["mainnet", "regtest"])
def test_a_chain_table_without_network_is_checked_once_its_adapter_opens(
    env: dict[str, str], tmp_path: Path, wallet: str
) -> None:
    """Attack on the check above: it reads only a ``network`` the table sets. A mainnet wallet
    with ``[chains.bitcoin]`` and no network opened the adapter on its default (regtest), and
    a test wallet beside an Ethereum node on chain id 1 with no network key took the node's
    word. The network the opened adapter reports is now held to the wallet's (the Bitcoin
    adapter opens without a node call; the Ethereum case is the same check)."""
    from etm_bridge.app.context import AppContext
    from etm_bridge.wallet.derive import quote_only_wallet

    path = _toml(tmp_path, f'network = "{wallet}"\n[chains.bitcoin]\n'
                           'rpc_url = "http://127.0.0.1:1"\n')  # fmt: skip
    ctx = AppContext(config=_load(env, tmp_path, config_file=path), keys=quote_only_wallet())
    if wallet == "regtest":
        assert ctx.adapter("bitcoin").info().network == "regtest"  # the default: as real
        return
    with pytest.raises(ConfigError, match=r"chains\.bitcoin is on network 'regtest' .*'mainnet'"):
        ctx.adapter("bitcoin")
    config = ctx.require_config()
    with pytest.raises(ConfigError, match=r"chains\.ethereum is on network 'anvil'"):
        config.check_opened_network("ethereum", "anvil")
    config.check_opened_network("ethereum", "mainnet")
    config.check_opened_network("handshake", "main")
