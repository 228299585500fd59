"""The declared dependencies are the imported ones: every third-party module clapcli imports comes from a
distribution pyproject.toml declares (in the base set or an extra), and every declared distribution is
imported somewhere, so an install never misses one and never carries a dead one."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]

# Imported, not declared by us, because a declared distribution guarantees it (and owns its version).
TRANSITIVE = {
    "httpx2": "huggingface_hub's own HTTP client, which models/hub_http.py bounds",
    "starlette": "fastapi (serve extra) is built on it",
    "pydantic": "fastapi (serve extra) requires it",
    "dcase_util": "sed_eval (eval extra) requires it",
    "pkg_resources": "a shim for dcase_util, imported only to give a clear message",
}
# Declared, not imported by name, and why.
NOT_IMPORTED = {
    "httptools": "uvicorn picks up its C HTTP parser when installed (serve extra)",
    "uvloop": "uvicorn picks up its event loop when installed (serve extra)",
    "onnx": "export writes ONNX through torch.onnx, which needs the onnx package",
    "phonemizer": "the tts extra: AudioLDM 2's speech model phonemizes through transformers",
    "torchsde": "the generate extra: Stable Audio Open's diffusers scheduler samples its noise with it",
}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def _declared() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(r): "base" for r in project["dependencies"]}
    for extra, requirements in project["optional-dependencies"].items():
        if extra not in ("test", "all"):  # "all" is clapcli[every extra]
            declared.update({_name(r): extra for r in requirements if _name(r) not in declared})
    return declared


def _imported() -> set[str]:
    modules: set[str] = set()
    for path in (ROOT / "clapcli").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m != "clapcli"}


def _distributions(module: str) -> set[str]:
    found = importlib.metadata.packages_distributions().get(module, [])
    return {d.lower().replace("_", "-") for d in found} or {module.lower().replace("_", "-")}


def test_every_imported_module_is_declared() -> None:
    declared = _declared()
    missing = {m: sorted(_distributions(m)) for m in _imported() - set(TRANSITIVE)
               if not _distributions(m) & set(declared)}
    assert missing == {}, f"imported but not declared in pyproject.toml: {missing}"


def test_every_declared_distribution_is_imported() -> None:
    provided = {d for module in _imported() for d in _distributions(module)}
    unused = sorted(d for d in _declared() if d not in provided and d not in NOT_IMPORTED)
    assert unused == [], f"declared but never imported: {unused}"


def test_the_version_is_the_changelogs_newest_release() -> None:
    import clapcli

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    released = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert released and project["version"] == clapcli.__version__ == released[0]
