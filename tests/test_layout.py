"""The layout keeps its promises (DESIGN.md, "Layout"): modules that fit in one sitting, and
function-level imports only where a service reaches its own package's tasks.

The direction of imports itself is checked by the import-linter contract in pyproject.toml,
which `make test` runs before the suite.
"""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "subscriptions"
MAX_LINES = 450
MAX_FUNCTION_LEVEL_IMPORTS = 8


def app_modules() -> list[Path]:
    return sorted(p for p in APP.rglob("*.py") if "migrations" not in p.relative_to(APP).parts)


def function_level_imports(path: Path) -> list[tuple[int, str]]:
    """Imports of the app's own modules written inside a function of `path`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.ImportFrom) and (
                inner.level > 0 or (inner.module or "").startswith("subscriptions")
            ):
                found.append((inner.lineno, ast.unparse(inner)))
    return found


def test_no_module_outgrows_one_sitting():
    lengths = {str(p.relative_to(APP)): len(p.read_text().splitlines()) for p in app_modules()}
    assert {name: n for name, n in lengths.items() if n > MAX_LINES} == {}
    assert "models/choices.py" in lengths  # the walk sees the app's packages


def test_function_level_imports_are_few_and_each_says_why():
    imports = [
        (path, line, text) for path in app_modules() for line, text in function_level_imports(path)
    ]
    assert len(imports) <= MAX_FUNCTION_LEVEL_IMPORTS, imports
    for path, line, text in imports:
        source = path.read_text().splitlines()
        said = source[line - 1] + source[line - 2]
        assert "#" in said, f"{path.relative_to(APP)}:{line} {text} needs a comment saying why"


def test_the_checker_sees_a_function_level_import(tmp_path):
    module = tmp_path / "module.py"
    module.write_text("def f():\n    from .tasks import x  # why\n    return x\n")
    assert function_level_imports(module) == [(2, "from .tasks import x")]
