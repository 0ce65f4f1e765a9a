"""Who may import whom across the chain folders (design 12, §1.3 and §9 WP-A).

An adapter plugin (``adapters/<name>/etm_bridge_<name>/``) may import its own chain folder
(``etm_bridge.chains.<name>``) but no other chain's: a plugin that reached into another chain's
folder would tie two chains together that the registry treats as independent, and removing
one chain would break the other. A chain folder likewise imports no other chain folder. The
imports are read from the source (``ast``), relative imports resolved, so a lazy import inside
a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from test_purity import imports, imports_of

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CHAINS = ROOT / "etm_bridge" / "chains"
CHAIN_NAMES = sorted(p.name for p in CHAINS.iterdir() if (p / "__init__.py").is_file())


def _plugin_files() -> list[tuple[str, Path]]:
    files = []
    for plugin in sorted((ROOT / "adapters").iterdir()):
        package = plugin / f"etm_bridge_{plugin.name}"
        if package.is_dir():
            files += [(plugin.name, p) for p in sorted(package.rglob("*.py"))]
    return files


def _plugin_imports(path: Path, plugin: str) -> set[str]:
    """The plugin's own relative imports stay inside ``etm_bridge_<plugin>``; only absolute
    ``etm_bridge.chains...`` names matter here."""
    module = f"etm_bridge_{plugin}.{path.stem}"
    return imports_of(path.read_text(), module, path.name == "__init__.py")


def _other_chains(names: set[str], own: str) -> list[str]:
    return sorted(
        n
        for n in names
        for other in CHAIN_NAMES
        if other != own and (n == f"etm_bridge.chains.{other}" or
                             n.startswith(f"etm_bridge.chains.{other}."))
    )  # fmt: skip


def test_there_are_chain_folders_and_plugins_to_check() -> None:
    assert {"bitcoin", "ethereum"} <= set(CHAIN_NAMES)
    assert {plugin for plugin, _ in _plugin_files()} >= {"bitcoin", "ethereum"}


@pytest.mark.parametrize(
    ("plugin", "path"), _plugin_files(), ids=lambda v: v if isinstance(v, str) else v.name
)
def test_adapters_import_only_their_own_chain_folder(plugin: str, path: Path) -> None:
    others = _other_chains(_plugin_imports(path, plugin), plugin)
    assert not others, f"{path.relative_to(ROOT)} imports another chain's folder: {others}"


@pytest.mark.parametrize("path", sorted(CHAINS.glob("*/**/*.py")), ids=lambda p: p.as_posix())
def test_a_chain_folder_imports_no_other_chain_folder(path: Path) -> None:
    own = path.relative_to(CHAINS).parts[0]
    others = _other_chains(imports(path), own)
    assert not others, f"{path.relative_to(ROOT)} imports another chain's folder: {others}"


def test_the_check_sees_a_cross_chain_import() -> None:
    source = "from etm_bridge.chains.ethereum.spv import rlp\nimport etm_bridge.chains.bitcoin\n"
    names = imports_of(source, "etm_bridge_bitcoin.adapter")
    assert _other_chains(names, "bitcoin") == [
        "etm_bridge.chains.ethereum.spv",
        "etm_bridge.chains.ethereum.spv.rlp",
    ]
    assert _other_chains(names, "ethereum") == ["etm_bridge.chains.bitcoin"]


# --- the CLI: verbs, option parsing and rendering over the use cases (design 12, §4.3) -------

CLI = ROOT / "cli"
#: What a verb module may import from the project: the use cases, the config, the chain
#: registry, the adapter list, units and errors, the node (node verbs) and the keystore (wallet
#: verbs). Workflows live in ``etm_bridge.app``; the demo and the stack in ``etm_bridge_regtest``.
CLI_ALLOWED = (
    "etm_bridge.app", "etm_bridge.config", "etm_bridge.chains.registry",
    "etm_bridge.chains.profile", "etm_bridge.adapters_registry", "etm_bridge.units",
    "etm_bridge.errors", "etm_bridge.node", "etm_bridge.wallet", "etm_bridge_regtest",
    "etm_bridge_cli",
)  # fmt: skip
#: One module more: the node verbs read the node's own genesis (slashing-protection files are
#: bound to its genesis id and slot clock).
CLI_EXTRA = {"node.py": ("etm_bridge.chain.genesis", "etm_bridge.chain.params")}
#: Chain libraries and databases the CLI never touches itself (the plugins and app/ do).
CLI_FORBIDDEN_LIBS = (
    "sqlite3", "sqlite_utils", "web3", "eth_account", "eth_utils", "eth_abi", "rlp", "bitcoin",
    "bitcoinlib",
)  # fmt: skip


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def cli_violations(names: set[str], filename: str) -> list[str]:
    """Of ``names`` (what ``cli/<filename>`` imports), the project modules and chain libraries
    a verb module may not import."""
    allowed = CLI_ALLOWED + CLI_EXTRA.get(filename, ())
    bad = []
    for name in sorted(names):
        if name == "etm_bridge" or name.startswith("etm_bridge.__"):
            continue  # the package itself (its version)
        if name.startswith("cli."):
            continue  # this package's own modules (relative imports)
        project = name.startswith("etm_bridge")
        if (project and not _under(name, allowed)) or _under(name, CLI_FORBIDDEN_LIBS):
            bad.append(name)
    return bad


def _rpc_uses(source: str) -> list[int]:
    """Lines that reach an adapter's node connection (``x.rpc``): a workflow, not a verb."""
    tree = ast.parse(source)
    return [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "rpc"]


@pytest.mark.parametrize("path", sorted(CLI.glob("*.py")), ids=lambda p: p.name)
def test_the_cli_imports_only_use_cases_config_and_node_verbs(path: Path) -> None:
    bad = cli_violations(imports(path), path.name)
    assert not bad, (
        f"cli/{path.name} imports {bad}: a verb parses options and renders; its workflow "
        "belongs in etm_bridge/app (plugins, exchange, spv, swaps, chain folders and databases "
        "are reached through it)"
    )


@pytest.mark.parametrize("path", sorted(CLI.glob("*.py")), ids=lambda p: p.name)
def test_the_cli_calls_no_adapter_rpc(path: Path) -> None:
    lines = _rpc_uses(path.read_text())
    assert not lines, f"cli/{path.name}:{lines}: an adapter's rpc is the adapter's business"


def test_the_cli_checks_see_what_they_forbid() -> None:
    source = (
        "import sqlite3\nfrom etm_bridge.swaps.runtime import watcher\n"
        "from etm_bridge_bitcoin.adapter import BitcoinAdapter\n"
        "from etm_bridge.chains.bitcoin import binding\nfrom etm_bridge.app import swaps\n"
        "from etm_bridge import __version__\nfrom .options import emit\n"
    )
    assert cli_violations(imports_of(source, "cli.verb"), "verb.py") == [
        "etm_bridge.chains.bitcoin", "etm_bridge.chains.bitcoin.binding",
        "etm_bridge.swaps.runtime", "etm_bridge.swaps.runtime.watcher",
        "etm_bridge_bitcoin.adapter", "etm_bridge_bitcoin.adapter.BitcoinAdapter", "sqlite3",
    ]  # fmt: skip
    assert _rpc_uses("adapter.rpc.call('getblockcount')\n") == [1]


def test_the_demo_and_the_stack_operator_live_in_regtest() -> None:
    gone = ("demo_world.py", "demo_swaps.py", "stack_operator.py", "spv_inputs.py")
    assert not [name for name in gone if (CLI / name).exists()]
    assert (ROOT / "regtest" / "demo" / "scenario.py").is_file()


# --- module aliases: a module is imported by its name (design 12, §8) -------------------------

#: Files that still import a module under a one- or two-letter alias: none left, and a file
#: may never join (the list may only shrink).
ALIASES_LEFT: frozenset[str] = frozenset()


def short_aliases(source: str) -> list[str]:
    """``import x as ab`` / ``from y import x as ab`` with an alias of at most two letters."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            found += [
                f"{a.name} as {a.asname}" for a in node.names if a.asname and len(a.asname) <= 2
            ]
    return found


def _alias_files() -> list[Path]:
    return sorted([*ROOT.joinpath("etm_bridge").rglob("*.py"), *CLI.rglob("*.py"),
                   *ROOT.joinpath("regtest").rglob("*.py")])  # fmt: skip


def test_no_module_is_imported_under_a_two_letter_alias() -> None:
    found = {}
    for path in _alias_files():
        name = path.relative_to(ROOT).as_posix()
        aliases = short_aliases(path.read_text())
        if aliases and name not in ALIASES_LEFT:
            found[name] = aliases
    assert not found, f"import modules by their name (pl, rc, hx, xt say nothing): {found}"


def test_the_list_of_files_left_with_aliases_only_shrinks() -> None:
    fixed = sorted(n for n in ALIASES_LEFT if not short_aliases((ROOT / n).read_text()))
    assert not fixed, f"these import by name now: drop them from ALIASES_LEFT: {fixed}"
    assert short_aliases("from . import payloads as pl\nimport json as js\nimport x as abc\n") == [
        "payloads as pl",
        "json as js",
    ]
