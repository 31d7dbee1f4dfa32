"""Production code never imports the emulator: the emulator is a dev tool beside the platform.

import-linter is not pinned, so the contract is an `ast` walk over every Python file of the project: any
`import generation.emulator...`, `from generation.emulator... import`, `from generation import emulator`, a relative
import that resolves into `generation.emulator`, or `importlib.import_module("generation.emulator...")` outside the
emulator itself and the tests fails here.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EMULATOR = "generation.emulator"
SKIPPED_DIRS = {"node_modules", "__pycache__", "var", "artifacts"}
# The emulator's own entry point (`manage.py foundry_emulator`) lives where Django finds commands, in the
# `generation` app, because the emulator package is not an installed app. It is the only production file that may
# import the emulator: it starts it, and nothing imports the command. (Tests and benchmarks are not production.)
ALLOWED = {Path("generation/management/commands/foundry_emulator.py")}


def _python_files() -> list[Path]:
    found = []
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS]
        found.extend(Path(root, name).relative_to(REPO) for name in files if name.endswith(".py"))
    return found


def _is_exempt(path: Path) -> bool:
    # Benchmarks are dev tools like the tests: the OCR and brand-check benchmarks draw their corpus with the
    # emulator's own renderer. Nothing in the platform imports a benchmark.
    return path.parts[0] in ("tests", "bench") or path.parts[:2] == ("generation", "emulator") or path in ALLOWED


def _module_name(path: Path) -> str:
    parts = list(path.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported_modules(repo: Path, path: Path) -> list[tuple[int, str]]:
    tree = ast.parse((repo / path).read_text(encoding="utf-8"), filename=str(path))
    package = _module_name(path).split(".") if path.name == "__init__.py" else _module_name(path).split(".")[:-1]
    modules = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1] if node.level > 1 else package
                base = ".".join([*anchor, *([base] if base else [])])
            modules.append((node.lineno, base))
            # `from generation import emulator` names the package in the alias, not in the module.
            modules.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")
        ):
            modules.append((node.lineno, node.args[0].value))
    return modules


def _imports_emulator(module: str) -> bool:
    return module == EMULATOR or module.startswith(EMULATOR + ".")


def emulator_imports(repo: Path, files: list[Path]) -> list[str]:
    """One `path:line imports module` per offending import statement."""
    found: dict[tuple[Path, int], str] = {}
    for path in files:
        if _is_exempt(path):
            continue
        for line, module in _imported_modules(repo, path):
            if _imports_emulator(module):
                found.setdefault((path, line), module)
    return [f"{path}:{line} imports {module}" for (path, line), module in found.items()]


def test_no_production_module_imports_the_emulator():
    files = _python_files()
    assert Path("generation/estimates/jobs.py") in files  # the walk reaches the apps
    assert emulator_imports(REPO, files) == []


def test_the_walk_sees_every_way_of_importing_the_emulator(tmp_path):
    # The contract cannot fail if its walk misses a spelling: each of these must be caught.
    spellings = [
        "import generation.emulator.usage",
        "from generation.emulator.usage import usage_for",
        "from generation import emulator",
        "from .emulator import usage",
        "import importlib; importlib.import_module('generation.emulator.app')",
    ]
    (tmp_path / "generation").mkdir()
    files = []
    for number, source in enumerate(spellings):
        path = Path("generation", f"m{number}.py")
        (tmp_path / path).write_text(source + "\n", encoding="utf-8")
        files.append(path)
    (tmp_path / "generation" / "fine.py").write_text("from generation.sizing import image_input_tokens\n")
    files.append(Path("generation/fine.py"))
    assert [line.split(":")[0] for line in emulator_imports(tmp_path, files)] == [str(p) for p in files[:-1]]
