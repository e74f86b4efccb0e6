"""The worker installs without the service: app/trainer must not reach the web or database layer."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

TRAINER = Path(__file__).resolve().parents[2] / "app" / "trainer"
SERVICE_PACKAGES = {"fastapi", "starlette", "sqlalchemy", "alembic", "uvicorn", "psycopg", "openai"}

_PROBE = """
import importlib, json, pkgutil, sys
import app.trainer.cli
light = "torch" in sys.modules
import app.trainer
for module in pkgutil.walk_packages(app.trainer.__path__, "app.trainer."):
    importlib.import_module(module.name)
print(json.dumps({
    "cli_imports_torch": light,
    "modules": sorted(name for name in sys.modules if name.startswith("app.")),
    "top_level": sorted({name.split(".")[0] for name in sys.modules}),
}))
"""


@pytest.fixture(scope="module")
def imported(cli_command: tuple[list[str], dict[str, str], Path]) -> dict[str, Any]:
    _, env, cwd = cli_command
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


class TestImportIsolation:
    def test_importing_every_trainer_module_pulls_no_web_or_database_package(
        self, imported: dict[str, Any]
    ) -> None:
        top_level = set(imported["top_level"])
        assert not top_level & SERVICE_PACKAGES

    def test_the_trainer_imports_nothing_from_app_outside_itself(self, imported: dict[str, Any]) -> None:
        outside = [name for name in imported["modules"] if not name.startswith("app.trainer")]
        assert outside == []

    def test_the_command_line_starts_without_torch(self, imported: dict[str, Any]) -> None:
        assert imported["cli_imports_torch"] is False

    def test_no_source_file_names_another_app_package(self) -> None:
        offenders = []
        for path in sorted(TRAINER.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = []
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                for name in names:
                    root = name.split(".")[0]
                    if root in SERVICE_PACKAGES or (root == "app" and not name.startswith("app.trainer")):
                        offenders.append(f"{path.name}: {name}")
        assert offenders == []
