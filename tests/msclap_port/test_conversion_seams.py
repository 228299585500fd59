"""The seams of ``clapcli.models.conversion`` (issue 13): recipes drive the converter, a typed
tokenizer error, one tokenizer-size guard, and the models layer importing nothing above it."""

from __future__ import annotations

import ast
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from msclap_reference import requires_reference

import clapcli
from clapcli.models import hub
from clapcli.models.conversion import RECIPES, TokenizerUnavailable, convert_checkpoint, load_tokenizer

PACKAGE = Path(clapcli.__file__).parent
MODELS_LAYER_FILES = sorted((PACKAGE / "models" / "conversion").glob("*.py"))  # on_first_use.py included
ABOVE_MODELS = ("clapcli.core", "clapcli.commands", "clapcli.cli", "clapcli.console", "clapcli.api")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", MODELS_LAYER_FILES, ids=lambda p: p.name)
def test_conversion_imports_nothing_above_the_models_layer(path: Path) -> None:
    upward = sorted(name for name in _imports(path) if name.startswith(ABOVE_MODELS))
    assert upward == [], f"{path.relative_to(PACKAGE)} imports {upward}"


def test_importing_the_package_stays_light() -> None:
    code = "import sys, clapcli.models.conversion; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_core_convert_is_gone() -> None:
    assert not (PACKAGE / "core" / "convert.py").exists()


def test_one_tokenizer_size_guard(gpt2_tokenizer_dir, monkeypatch) -> None:
    """The converter reads hub.MIN_TOKENIZER_SIZE, the constant model loading uses: raising it refuses
    the 401-token fixture as transformers' silent placeholder tokenizer would be refused."""
    assert len(load_tokenizer(str(gpt2_tokenizer_dir), vocab_size=420, expected="gpt2")) == 401
    monkeypatch.setattr(hub, "MIN_TOKENIZER_SIZE", 1000)
    with pytest.raises(TokenizerUnavailable) as error:
        load_tokenizer(str(gpt2_tokenizer_dir), vocab_size=420, expected="gpt2")
    assert "has 401 tokens" in str(error.value) and "gpt2 tokenizer with --tokenizer" in str(error.value)


def test_tokenizer_larger_than_the_vocabulary_is_refused(gpt2_tokenizer_dir) -> None:
    with pytest.raises(TokenizerUnavailable) as error:
        load_tokenizer(str(gpt2_tokenizer_dir), vocab_size=50, expected="gpt2")
    assert "vocabulary has 50" in str(error.value) and "\n" not in str(error.value)


def test_missing_tokenizer_directory_is_typed(tmp_path) -> None:
    with pytest.raises(TokenizerUnavailable) as error:
        load_tokenizer(str(tmp_path / "absent"), vocab_size=420, expected="roberta-base")
    assert "local roberta-base tokenizer directory with --tokenizer" in str(error.value)


def test_recipes_share_the_htsat_tower_and_differ_only_in_data() -> None:
    assert sorted(RECIPES) == ["laion", "msclap"]
    for recipe in RECIPES.values():
        assert [rule.htsat for rule in recipe.prefixes].count(True) == 1  # the one audio tower
        assert len({rule.source for rule in recipe.prefixes}) == len(recipe.prefixes)
    assert {r.family: r.default_tokenizer for r in RECIPES.values()} == {"msclap": "gpt2", "laion": "roberta-base"}


@requires_reference
def test_the_driver_never_branches_on_the_family(msclap_original, gpt2_tokenizer_dir, tmp_path, monkeypatch) -> None:
    """A recipe registered under a new name converts exactly as the one it copies."""
    monkeypatch.setitem(RECIPES, "msclap-copy", dataclasses.replace(RECIPES["msclap"], family="msclap-copy"))
    copy = convert_checkpoint("msclap-copy", msclap_original[1], tmp_path / "copy", tokenizer=str(gpt2_tokenizer_dir))
    plain = convert_checkpoint("msclap", msclap_original[1], tmp_path / "plain", tokenizer=str(gpt2_tokenizer_dir))
    assert copy.family == "msclap-copy"
    assert dataclasses.replace(copy, family="msclap", output=plain.output) == plain
    assert json.loads((tmp_path / "copy" / "config.json").read_text())["model_type"] == "msclap"
    weights = [(tmp_path / name / "model.safetensors").read_bytes() for name in ("copy", "plain")]
    assert weights[0] == weights[1]
