"""No command-line flag spelled in what clapcli.core, clapcli.io and clapcli.store raise (issue #25): a
wrong value is an ``InvalidField`` naming the request field, and the CLI boundary turns fields into flags.
What must stay is listed below, one reason per entry; an entry that no longer matches fails the test too."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DIRECTORIES = ("clapcli/core", "clapcli/io", "clapcli/store")
FLAG = re.compile(r"--[a-z]")

# InvalidField is a UsageError (exit 2): these raise another class, whose exit code (1, 3 or 4) or whose
# handling (an InputError skips one input, an OutputError/DatasetError is caught as such) a field would change.
OTHER_CLASS = "not a usage error: InvalidField would change its class and exit code"
# A command to run, quoted as it is typed ('clap embed FILES --db X'): advice about the command line.
PROBE_CLI_ONLY = ("probes are reached only through the command line today (no Python API yet); InvalidField "
                  "when the API gains them")
QUOTED_COMMAND = "a whole command line to run, quoted as the user types it"

ALLOWED = {
    ("clapcli/core/classify.py", "check_expectation"): OTHER_CLASS + " (ExpectationError, exit 4)",
    ("clapcli/core/eval/captions.py", "read_retrieval"): OTHER_CLASS + " (DatasetError)",
    ("clapcli/core/eval/classify.py", "display_labels"): OTHER_CLASS + " (DatasetError)",
    ("clapcli/core/eval/datasets.py", "file_listed"): OTHER_CLASS + " (DatasetError)",
    ("clapcli/core/generate/scoring.py", "_resample_like_pipeline"): OTHER_CLASS + " (MissingDependencyError)",
    ("clapcli/core/ray_engine/sink.py", "prepare_output"): OTHER_CLASS + " (OutputError)",
    ("clapcli/core/shards.py", "import_shards"): "'--import DIR' is the command's import_dir, 'location' for Python "
                                                 "(a field name of its own to agree on), and the advice is a "
                                                 "quoted command ('clap embed FILES --engine ray --output DIR')",
    ("clapcli/core/shards.py", "_batches"): OTHER_CLASS + " (ClapcliError, a shard that cannot be read)",
    ("clapcli/core/shards.py", "_conform"): OTHER_CLASS + " (ClapcliError, a shard of another layout)",
    ("clapcli/core/shards.py", "_columns"): OTHER_CLASS + " (ClapcliError, shards of several models)",
    ("clapcli/core/shards.py", "_matrix"): OTHER_CLASS + " (ClapcliError, embeddings of mixed lengths)",
    ("clapcli/io/reference.py", "read_reference"): OTHER_CLASS + " (InputError, an unreadable reference file)",
    ("clapcli/io/target.py", "OutputFile._inspect"): OTHER_CLASS + " (OutputError, exists without --overwrite)",
    ("clapcli/store/collection.py", "Collection._load_from_db"): OTHER_CLASS + " (ClapcliError, a damaged library)",
    ("clapcli/store/collection.py", "Collection._decode"): OTHER_CLASS + " (ClapcliError, a damaged library)",
    ("clapcli/store/files.py", "load_embedding_file"): OTHER_CLASS + " (ClapcliError, an unreadable file)",
    ("clapcli/store/schema.py", "check_header"): OTHER_CLASS + " (ClapcliError, an unreadable file)",
    ("clapcli/store/schema.py", "check_found"): OTHER_CLASS + " (ClapcliError, a newer schema); and "
                                                + QUOTED_COMMAND + " to upgrade an older one",
    ("clapcli/store/schema.py", "_connect"): OTHER_CLASS + " (ClapcliError, SQLite cannot open it)",
    ("clapcli/store/sqlite.py", "EmbeddingStore.write"): OTHER_CLASS + " (ClapcliError, a read-only store)",
    ("clapcli/store/sqlite.py", "EmbeddingStore._locked"): OTHER_CLASS + " (ClapcliError, SQLite refused)",
    ("clapcli/store/sqlite.py", "EmbeddingStore.collection"): QUOTED_COMMAND + " to fill a missing collection",
    ("clapcli/store/sqlite.py", "open_store"): QUOTED_COMMAND + " to create the library; and " + OTHER_CLASS
                                               + " (ClapcliError, SQLite cannot open or migrate it)",
    ("clapcli/core/filters.py", "collection_filter"): QUOTED_COMMAND + " ('clap tag --db LIB --labels-file FILE')",
    ("clapcli/core/mapping.py", "library_map"): QUOTED_COMMAND + " ('clap tag --db LIB --labels-file FILE')",
    ("clapcli/core/probe/data.py", "read_training_set"): PROBE_CLI_ONLY,
    ("clapcli/core/probe/model.py", "Probe.check_model"): PROBE_CLI_ONLY,
    ("clapcli/core/probe/store.py", "load_probe"): PROBE_CLI_ONLY,
    ("clapcli/core/probe/store.py", "_manifest"): PROBE_CLI_ONLY,
}


def _raised(node: ast.AST) -> ast.expr | None:
    """What a ``raise X(...)`` raises, or a ``return X(...)`` of an exception (a factory such as
    ``store.schema.not_a_library``)."""
    if isinstance(node, ast.Raise):
        return node.exc
    if isinstance(node, ast.Return) and isinstance(node.value, ast.Call):
        name = ast.unparse(node.value.func)
        if name.endswith(("Error", "InvalidField")):
            return node.value
    return None


def _flags_raised(path: Path) -> dict[str, list[str]]:
    """function qualname -> the string literals with a flag in what it raises."""
    found: dict[str, list[str]] = {}

    def visit(node: ast.AST, scope: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(child, f"{scope}.{child.name}" if scope else child.name)
                continue
            raised = _raised(child)
            if raised is not None:
                literals = [n.value for n in ast.walk(raised)
                            if isinstance(n, ast.Constant) and isinstance(n.value, str) and FLAG.search(n.value)]
                if literals:
                    found.setdefault(scope, []).extend(literals)
            visit(child, scope)

    visit(ast.parse(path.read_text(encoding="utf-8")), "")
    return found


def _all_flags_raised() -> dict[tuple[str, str], list[str]]:
    found = {}
    for directory in DIRECTORIES:
        for path in sorted((ROOT / directory).rglob("*.py")):
            for scope, literals in _flags_raised(path).items():
                found[(path.relative_to(ROOT).as_posix(), scope)] = literals
    return found


def test_no_flag_in_what_core_io_and_store_raise() -> None:
    found = _all_flags_raised()
    unexpected = {key: literals for key, literals in found.items() if key not in ALLOWED}
    assert not unexpected, ("raise InvalidField naming the field (clapcli.errors), or allow-list it with a reason: "
                            f"{unexpected}")


def test_allow_list_is_current() -> None:
    stale = set(ALLOWED) - set(_all_flags_raised())
    assert not stale, f"these raise no flag any more; drop them from ALLOWED: {sorted(stale)}"


@pytest.mark.parametrize("source,expected", [
    ("def f():\n    raise UsageError(f'--top-k {k}: bad')\n", {"f": ["--top-k "]}),
    ("class C:\n    def m(self):\n        return OutputError('give --output')\n", {"C.m": ["give --output"]}),
    ("def f():\n    raise InvalidField('top_k', 'must be >= 1')\n", {}),
    ("def f():\n    '''--top-k in a docstring is help text'''\n    x = '--top-k'\n", {}),
])
def test_the_scan_sees_raises_only(tmp_path: Path, source: str, expected: dict) -> None:
    path = tmp_path / "module.py"
    path.write_text(source, encoding="utf-8")
    assert _flags_raised(path) == expected
