"""The shape of DEVON's code, in figures: lines per module, the import graph between our
modules, its cycles, and the imports that cross a boundary they should not.

    python scripts/code_shape.py [ROOT ...]     (default: src and testhub/src)

Every import counts, those under `TYPE_CHECKING` and inside functions too: a cycle hidden
there is still a cycle. Prints Markdown, so the figures can go straight into an ADR.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

OURS = ("devon_",)


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(tree: ast.AST, name: str, is_package: bool) -> list[tuple[str, list[str]]]:
    """(module, names taken from it) for every import in `tree`, relative ones resolved."""
    found: list[tuple[str, list[str]]] = []
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((base, [alias.name for alias in node.names]))
    return found


def resolve(target: str, names: list[str], modules: set[str]) -> list[tuple[str, list[str]]]:
    """The modules of ours that `from target import names` reaches (a name may be a module)."""
    reached: list[tuple[str, list[str]]] = []
    plain = [n for n in names if f"{target}.{n}" not in modules]
    for n in names:
        if f"{target}.{n}" in modules:
            reached.append((f"{target}.{n}", []))
    probe = target
    while probe and probe not in modules:
        probe = probe.rpartition(".")[0]
    if probe and (plain or not names):
        reached.append((probe, plain))
    return reached


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def main(argv: list[str]) -> None:
    roots = [Path(a) for a in argv] or [p for p in (Path("src"), Path("testhub/src")) if p.is_dir()]
    files: dict[str, tuple[Path, bool]] = {}
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            name = module_name(root, path)
            if name.startswith(OURS):
                files[name] = (path, path.name == "__init__.py")
    modules = set(files)
    graph: dict[str, set[str]] = defaultdict(set)
    private: list[str] = []
    lines: dict[str, int] = {}
    for name, (path, is_package) in files.items():
        text = path.read_text()
        lines[name] = text.count("\n")
        for target, names in imported(ast.parse(text), name, is_package):
            if not target.startswith(OURS):
                continue
            for module, taken in resolve(target, names, modules):
                if module == name:
                    continue
                graph[name].add(module)
                secret = [n for n in taken if n.startswith("_") and not n.startswith("__")]
                if secret:
                    private.append(f"{name} takes {', '.join(secret)} from {module}")

    packages: dict[str, list[str]] = defaultdict(list)
    for name in modules:
        packages[name.split(".")[0]].append(name)
    print("| package | modules | lines | largest module (lines) |")
    print("|---|---:|---:|---|")
    for package in sorted(packages):
        members = packages[package]
        biggest = max(members, key=lambda m: lines[m])
        total = sum(lines[m] for m in members)
        print(f"| {package} | {len(members)} | {total:,} | {biggest} ({lines[biggest]}) |")
    sizes = sorted(lines.values())
    print()
    print(
        f"{len(modules)} modules, {sum(sizes):,} lines; median {sizes[len(sizes) // 2]}, "
        f"{sum(1 for s in sizes if s > 400)} over 400 lines, "
        f"{sum(len(v) for v in graph.values())} import edges between our modules."
    )
    crossing: dict[tuple[str, str], int] = defaultdict(int)
    for source, targets in graph.items():
        for target in targets:
            a, b = source.split(".")[0], target.split(".")[0]
            if a != b:
                crossing[(a, b)] += 1
    print()
    print(
        "Imports between packages (edges): "
        + ", ".join(f"{a} -> {b} {n}" for (a, b), n in sorted(crossing.items()))
    )
    found = cycles(graph)
    print()
    print(f"Import cycles: {len(found)}")
    for component in found:
        print(f"- {' <-> '.join(component)}")
    print()
    print(f"Private names taken from another module: {len(private)}")
    for line in sorted(private):
        print(f"- {line}")


if __name__ == "__main__":
    main(sys.argv[1:])
