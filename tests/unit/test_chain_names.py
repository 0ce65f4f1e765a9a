"""No module outside a chain's own folder names a chain (issue 12, design section 1.3).

Covered: every ``*.py`` under ``etm_bridge/`` except ``etm_bridge/chains/<name>/`` (one folder
per chain; the generic ``etm_bridge/chains/*.py`` are covered), and every ``*.py`` under
``cli/``. The whole text counts (code, strings, comments, docstrings), split into words at
``_``, digits and camelCase, lowercased: so ``EthModuleTest``, ``ETHEREUM_ADDRESS``,
``spv_btc_headers``, ``"0.01 BTC"`` and ``bitcoin-cli`` are all hits. No allowlist: consensus
strings that hold a ticker are declared inside the chain folders.

Strict: no covered file names a chain (it was a per-file ratchet while issue 12 moved the chain
knowledge into the chain folders; it reached zero). ``python tests/unit/test_chain_names.py``
prints the counts per directory.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
#: The issue's acceptance: these never appear.
REQUIRED = frozenset({"btc", "eth", "bitcoin", "ethereum"})
#: Chain knowledge by another name.
ALSO = frozenset({
    "erc", "ether", "wei", "sat", "satoshi", "anvil", "bcoin", "bitcoind", "segwit", "p2wsh",
    "p2wpkh", "keccak", "rlp", "evm",
    # Handshake (issue 16): "handshake" itself also names the peer protocol's hello exchange
    "hns", "hsd", "dollarydoo", "dollarydoos",
})  # fmt: skip
TOKENS = REQUIRED | ALSO
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
#: Tokens with a digit inside, which the word split would cut: matched as substrings.
_WITH_DIGITS = re.compile(r"p2wsh|p2wpkh", re.IGNORECASE)


def covered_files() -> list[Path]:
    chains = ROOT / "etm_bridge" / "chains"
    files = []
    every = [*ROOT.joinpath("etm_bridge").rglob("*.py"), *ROOT.joinpath("cli").rglob("*.py")]
    for path in sorted(every):
        if path.is_relative_to(chains) and len(path.relative_to(chains).parts) > 1:
            continue  # etm_bridge/chains/<name>/...: the chain's own home
        files.append(path)
    return files


def hits(text: str) -> list[tuple[int, str]]:
    """(line number, token) of every chain name in ``text``."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for word in _WORD.findall(line):
            if word.lower() in TOKENS:
                found.append((number, word.lower()))
        found += [(number, m.group().lower()) for m in _WITH_DIGITS.finditer(line)]
    return found


def counts() -> dict[str, int]:
    out = {}
    for path in covered_files():
        n = len(hits(path.read_text(encoding="utf-8")))
        if n:
            out[path.relative_to(ROOT).as_posix()] = n
    return out


def by_directory(per_file: dict[str, int]) -> dict[str, int]:
    """Hits per directory (``etm_bridge/spv``, ``cli``, ...), for reports."""
    total: Counter[str] = Counter()
    for name, n in per_file.items():
        total[str(Path(name).parent)] += n
    return dict(sorted(total.items()))


def test_the_tokenizer_finds_chain_names_in_every_spelling() -> None:
    text = "EthModuleTest ETHEREUM_ADDRESS spv_btc_headers '0.01 BTC' bitcoin-cli p2wsh rlpx"
    assert [t for _, t in hits(text)] == ["eth", "ethereum", "btc", "btc", "bitcoin", "p2wsh"]
    assert hits("method bitcoinlike betaeth") == []


def test_no_file_outside_a_chain_folder_names_a_chain() -> None:
    found_in = []
    for path in covered_files():
        found = hits(path.read_text(encoding="utf-8"))
        if found:
            name = path.relative_to(ROOT).as_posix()
            found_in.append("\n".join(f"  {name}:{line}: {token}" for line, token in found))
    assert not found_in, "chain knowledge outside etm_bridge/chains/<name>/:\n" + "\n".join(
        found_in
    )


if __name__ == "__main__":
    print(json.dumps(by_directory(counts()), indent=1))
