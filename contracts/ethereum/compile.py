"""Compile the Ethereum contracts reproducibly into the committed artifacts.

Usage (from the repository root)::

    .venv/bin/python contracts/ethereum/compile.py          # (re)write artifacts/*.json
    .venv/bin/python contracts/ethereum/compile.py --check  # exit 1 if artifacts are stale

The compiler is the pinned npm ``solc`` (``node_modules/.bin/solcjs``, override with the
``SOLCJS`` environment variable) in standard-JSON mode with fixed settings (optimizer, runs,
evmVersion, metadata), so the same sources always give byte-identical artifacts. Each artifact
records the ABI, creation and runtime bytecode, the exact compiler version and settings, and the
SHA-256 of the source it came from. ``tests/unit/ethereum/test_artifacts.py`` compiles afresh
and fails if anything differs from what is committed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ARTIFACTS_DIR = HERE / "artifacts"

#: The one compiler this project accepts (package.json pins solc 0.8.37).
SOLC_VERSION = "0.8.37+commit.f401782d"
#: Contract name -> source file (relative to this directory).
CONTRACTS = {
    "EtherSwapHTLC": "EtherSwapHTLC.sol",
    "TestToken": "TestToken.sol",
    "PoolVault": "PoolVault.sol",
    "CommitteeVault": "CommitteeVault.sol",
    "TestFeeToken": "TestFeeToken.sol",
    "TestHookToken": "TestReentrancy.sol",
    "TestReentrantReceiver": "TestReentrancy.sol",
}
#: Fixed compiler settings. "cancun" runs on anvil 1.7.1 (default hardfork Prague and later).
SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "cancun",
    "metadata": {"bytecodeHash": "ipfs"},
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}


class CompileError(Exception):
    """solcjs failed, is missing, is the wrong version, or reported compile errors."""


def solcjs_path() -> Path:
    return Path(os.environ.get("SOLCJS", ROOT / "node_modules" / ".bin" / "solcjs"))


def _run_solcjs(args: list[str], stdin: str | None = None) -> str:
    """solcjs's stdout. It goes to a temporary file, not a pipe: solcjs ends with
    ``console.log(output); process.exit(0)``, and node drops what a full pipe (64 KiB) has not
    taken yet, so a piped standard-JSON output over 64 KiB came back cut at random lengths."""
    exe = solcjs_path()
    if not exe.exists():
        raise CompileError(f"solcjs not found at {exe}: run `npm ci --ignore-scripts` first")
    with tempfile.TemporaryFile("w+", encoding="utf-8") as out:
        proc = subprocess.run(
            [str(exe), *args],
            input=stdin,
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            timeout=300,
        )
        out.seek(0)
        stdout = out.read()
    if proc.returncode != 0:
        raise CompileError(f"solcjs {' '.join(args)} failed: {proc.stderr.strip()}")
    return stdout


def compiler_version() -> str:
    version = _run_solcjs(["--version"]).strip().removesuffix(".Emscripten.clang")
    if version != SOLC_VERSION:
        raise CompileError(f"solcjs is {version}, this project pins {SOLC_VERSION}")
    return version


def standard_input() -> dict[str, Any]:
    sources = {
        filename: {"content": (HERE / filename).read_text(encoding="utf-8")}
        for filename in CONTRACTS.values()
    }
    return {"language": "Solidity", "sources": sources, "settings": SETTINGS}


def _parse_json_output(stdout: str) -> dict[str, Any]:
    """solcjs prints notices (">>> Cannot retry ... SMT") before the JSON: skip them."""
    start = stdout.find("\n{") + 1 if not stdout.startswith("{") else 0
    if not stdout[start:].startswith("{"):
        raise CompileError(f"solcjs printed no JSON: {stdout[:200]!r}")
    return json.loads(stdout[start:])


def _check_diagnostics(output: dict[str, Any]) -> None:
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        text = "\n".join(e.get("formattedMessage", e.get("message", "?")) for e in errors)
        raise CompileError(f"solc reported errors:\n{text}")
    for warning in output.get("errors", []):
        print(warning.get("formattedMessage", warning.get("message")), file=sys.stderr)


def compile_all() -> dict[str, dict[str, Any]]:
    """Compile every contract afresh; return contract name -> artifact (not written)."""
    version = compiler_version()
    job = standard_input()
    output = _parse_json_output(_run_solcjs(["--standard-json"], stdin=json.dumps(job)))
    _check_diagnostics(output)
    artifacts = {}
    for name, filename in CONTRACTS.items():
        compiled = output["contracts"][filename][name]
        source = job["sources"][filename]["content"].encode("utf-8")
        artifacts[name] = {
            "contractName": name,
            "sourcePath": f"contracts/ethereum/{filename}",
            "sourceSha256": hashlib.sha256(source).hexdigest(),
            "compiler": {"name": "solcjs", "version": version, "settings": SETTINGS},
            "abi": compiled["abi"],
            "bytecode": "0x" + compiled["evm"]["bytecode"]["object"],
            "deployedBytecode": "0x" + compiled["evm"]["deployedBytecode"]["object"],
        }
    return artifacts


def render(artifact: dict[str, Any]) -> str:
    """The exact text committed for an artifact (stable key order, trailing newline)."""
    return json.dumps(artifact, indent=2, sort_keys=True) + "\n"


def stale_artifacts(artifacts: dict[str, dict[str, Any]]) -> list[str]:
    """Names of artifacts whose committed file is missing or differs from ``artifacts``."""
    stale = []
    for name, artifact in artifacts.items():
        path = ARTIFACTS_DIR / f"{name}.json"
        if not path.exists() or path.read_text(encoding="utf-8") != render(artifact):
            stale.append(name)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if artifacts are stale")
    args = parser.parse_args(argv)
    artifacts = compile_all()
    if args.check:
        stale = stale_artifacts(artifacts)
        if stale:
            print(f"stale artifacts: {', '.join(stale)} (run compile.py)", file=sys.stderr)
            return 1
        print("artifacts up to date")
        return 0
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    for name, artifact in artifacts.items():
        (ARTIFACTS_DIR / f"{name}.json").write_text(render(artifact), encoding="utf-8")
        print(f"wrote {ARTIFACTS_DIR / f'{name}.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
