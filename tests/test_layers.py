"""How rag/ is layered, read from the source with `ast`: each module imports only modules of its own
layer or a lower one, the imports between modules form no cycle, every dependency on another rag
module is stated at the top of its file (none inside a function), and every module imports alone."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

from rag.settings import OFFLINE_ENVIRONMENT

PACKAGE = Path(__file__).resolve().parent.parent / "rag"

# Bottom to top; names relative to rag/ ("__init__" is rag/__init__.py, "web" is rag/web/__init__.py).
# A module may import modules of its own layer or of a lower one, never of a higher one.
LAYERS: list[set[str]] = [
    {"__init__", "models", "settings", "data"},  # plain records, the settings, the shipped ranker weights
    {"text", "dates", "progress", "checkpoints", "fetching"},  # words, dates, progress, crash-test moments, web requests
    {"articles", "sentences", "chunking", "embeddings", "catalog"},  # reading, splitting, embedding, cataloguing
    {"reader"},  # the embedding model with adapters that read a question and a sentence together
    {"store"},
    {"indexing", "retrieval", "ranker", "citations", "feeds", "following"},
    {"answering", "evaluation"},
    {"llm"},  # the chat-model answerers implement answering's Query -> Proposal
    {"service"},
    {"rebuilding"},  # `rag ingest --rebuild`: builds a NewsChat beside the store in use
    {"cli", "__main__", "web", "web.app", "web.handlers", "web.render", "web.runtime", "web.turns", "web.uploads"},
]
LAYER = {name: level for level, names in enumerate(LAYERS) for name in names}

# (module, imported module) pairs allowed inside a function, each for a reason. Only `rag serve` needs
# Gradio, which takes seconds to import (1.5 s alone, about 4 s on a busy 2-core machine): imported at
# the top of cli.py, every other command would wait for it too.
IN_FUNCTIONS = {("cli", "web.app")}


def _parts(path: Path) -> tuple[str, ...]:
    """rag/web/app.py -> ("web", "app"); a package's __init__.py -> the package's parts."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[:-1] if parts[-1] == "__init__" else parts


PATHS = {_parts(p): p for p in sorted(PACKAGE.rglob("*.py"))}
NAMES = {parts: ".".join(parts) or "__init__" for parts in PATHS}
MODULES = {NAMES[parts]: parts for parts in PATHS}  # name as in LAYERS -> parts


def _module(parts: tuple[str, ...]) -> str:
    """The module `import rag.<parts>` runs last: `rag.models.Chunk` names an attribute of rag.models."""
    while parts not in PATHS:
        parts = parts[:-1]
    return NAMES[parts]


def targets(module: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The rag modules an import statement of `module` imports (names as in LAYERS)."""
    if isinstance(node, ast.Import):
        return {_module(tuple(a.name.split(".")[1:])) for a in node.names if a.name.split(".")[0] == "rag"}
    if node.level == 0:
        dotted = (node.module or "").split(".")
        if dotted[0] != "rag":
            return set()
        base = tuple(dotted[1:])
    else:
        parts = MODULES[module]
        package = parts if PATHS[parts].name == "__init__.py" else parts[:-1]
        base = package[:len(package) - node.level + 1] + tuple(node.module.split(".") if node.module else ())
    found = {_module(base)}
    found |= {NAMES[base + (a.name,)] for a in node.names if base + (a.name,) in PATHS}  # from . import render
    return found - {module}


def imports(module: str) -> set[tuple[str, bool]]:
    """(imported rag module, inside a function?) for every import statement of `module`."""
    tree = ast.parse(PATHS[MODULES[module]].read_text(encoding="utf-8"))
    found: set[tuple[str, bool]] = set()

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.update((target, in_function) for target in targets(module, child))
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, False)
    return found


GRAPH = {m: sorted({target for target, _ in imports(m)}) for m in MODULES}


def test_the_checker_reads_imports_as_python_does():
    assert {"models", "web", "web.render", "web.runtime", "web.turns"} <= set(GRAPH["web.handlers"])
    assert {"web", "web.handlers", "web.render", "web.runtime"} <= set(GRAPH["web.app"])  # from . import handlers
    assert {"models", "settings"} <= set(GRAPH["llm"]) and "web.app" in GRAPH["cli"]
    assert GRAPH["__main__"] == ["cli"] and GRAPH["settings"] == []


def test_every_module_has_a_layer():
    assert sorted(set(MODULES) - set(LAYER)) == [], "place each new module in LAYERS"
    assert sorted(set(LAYER) - set(MODULES)) == [], "LAYERS names a module that is gone"


def test_no_module_imports_a_higher_layer():
    upward = [f"{m} (layer {LAYER[m]}) imports {t} (layer {LAYER[t]})"
              for m, imported in GRAPH.items() for t in imported if LAYER[t] > LAYER[m]]
    assert upward == []


def test_imports_form_no_cycle():
    """Modules of one layer may import each other, but never round in a circle."""
    acyclic: set[str] = set()

    def cycle_from(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return path[path.index(module):] + [module]
        if module in acyclic:
            return None
        for target in GRAPH[module]:
            cycle = cycle_from(target, path + [module])
            if cycle:
                return cycle
        acyclic.add(module)
        return None

    cycles = [" -> ".join(c) for c in map(lambda m: cycle_from(m, []), GRAPH) if c]
    assert cycles == []


def test_no_function_imports_a_rag_module():
    inside = {(m, target) for m in MODULES for target, in_function in imports(m) if in_function}
    assert inside - IN_FUNCTIONS == set(), "import it at the top of the file"
    assert IN_FUNCTIONS - inside == set(), "no longer imported in a function: drop it from IN_FUNCTIONS"


# Each module imported with no other rag module loaded before it, in one interpreter: the modules of
# rag are dropped from sys.modules before each import, the libraries they load are kept. An interpreter
# per module would also reload those libraries, which took 82 s for the 30 modules on this project's
# 2-core machines; this way a module that works only because another was imported first still fails.
IMPORT_EACH_ALONE = """
import importlib, sys, traceback
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "rag" or m.startswith("rag.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except BaseException as e:
        print(f"{name}: {traceback.format_exception_only(e)[-1].strip()}")
"""


def test_every_module_imports_alone():
    """`__main__` runs the command line when imported: test_settings.py runs `python -m rag` instead."""
    names = ["rag" if m == "__init__" else f"rag.{m}" for m in sorted(set(MODULES) - {"__main__"})]
    env = dict(os.environ, **OFFLINE_ENVIRONMENT)
    done = subprocess.run([sys.executable, "-c", IMPORT_EACH_ALONE, *names], env=env, cwd=PACKAGE.parent,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == []
