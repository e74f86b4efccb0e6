"""The service never pulls torch: everything outside app/trainer imports without it (the trainer's own test
checks the other direction)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = {"torch", "transformers", "peft", "accelerate", "datasets", "trl"}

_PROBE = """
import importlib, json, pkgutil, sys
import app
for module in pkgutil.walk_packages(app.__path__, "app."):
    if module.name.startswith("app.trainer"):
        continue
    importlib.import_module(module.name)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_importing_every_service_module_pulls_no_training_library() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert "fastapi" in loaded  # the probe really imported the service
    assert not loaded & HEAVY


def test_no_service_source_file_names_a_training_library() -> None:
    offenders = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        if "trainer" in path.relative_to(ROOT / "app").parts[:1]:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            else:
                continue
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in HEAVY]
    assert offenders == []
