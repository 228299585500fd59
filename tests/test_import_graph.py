"""The import graph of clapcli has no circles: every module can be read knowing only those below it.
(import-linter keeps the order of the layers; this test keeps modules inside one layer from tying knots.)"""

from __future__ import annotations

import grimp


def strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the groups of modules that import each other, directly or not."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def test_no_module_imports_itself_round_a_circle() -> None:
    circles = strongly_connected(grimp.build_graph("clapcli"))
    assert circles == [], "import circles (lazy imports inside functions count too):\n" + "\n".join(
        " <-> ".join(circle) for circle in circles)


def test_the_check_finds_a_circle() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(name)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.x")
    graph.add_import(importer="a.z", imported="a.x")
    assert strongly_connected(graph) == [["a.x", "a.y"]]


def test_design_notes_cited_by_the_code_are_in_the_repository() -> None:
    """Code and tests cite ``docs/design.md §N``; every cited section exists (no notes outside the repo)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    sections = set(re.findall(r"^## §(\d+)", (root / "docs" / "design.md").read_text(), re.MULTILINE))
    cited: dict[str, str] = {}
    for path in [*root.glob("clapcli/**/*.py"), *root.glob("tests/**/*.py"), *root.glob("benchmarks/**/*")]:
        if path.is_file():
            text = path.read_text(errors="replace")
            assert "DESIGN" + ".md" not in text, f"{path} cites a notes file outside the repository"
            cited.update({number: str(path) for number in re.findall(r"design\.md §(\d+)", text)})
    assert cited and set(cited) <= sections, {n: p for n, p in cited.items() if n not in sections}
