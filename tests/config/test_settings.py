import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "x" * 64 + "production-secret-for-the-check",
    "ALLOWED_HOSTS": "dam.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://dam.example.com",
    "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
}


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    # A production environment: none of the test process's own switches (Playwright sets
    # DJANGO_ALLOW_ASYNC_UNSAFE for the browser tests) leak into it.
    dropped = {"DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    full_env = {k: v for k, v in os.environ.items() if k not in dropped}
    full_env.update(DJANGO_SETTINGS_MODULE="config.settings", **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        check=False,
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_is_clean_with_the_production_variables():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr + result.stdout


def test_production_without_a_secret_key_refuses_to_start():
    env = dict(PRODUCTION, SECRET_KEY="")
    result = _manage("check", **env)
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEBUG", "maybe", "is not a boolean"),
        ("API_PAGE_SIZE", "lots", "is not an integer"),
        ("STORAGE_BACKEND", "ftp", "must be one of"),
        ("DATABASE_URL", "mysql://root@localhost/dam", "must point at PostgreSQL"),
        ("LOG_LEVELS", "generation.services.execution=loud", "must be NAME=LEVEL"),
        ("LOG_LEVELS", "generation.services.execution", "must be NAME=LEVEL"),
    ],
)
def test_bad_values_fail_loudly_naming_the_variable(name, value, message):
    result = _manage("check", **{name: value})
    assert result.returncode != 0
    assert name in result.stderr and message in result.stderr


MUTATING_METHODS = {"append", "extend", "insert", "remove", "pop", "clear", "update", "setdefault", "__setitem__"}


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Subscript | ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _is_setting(name: str | None) -> bool:
    return bool(name) and name.isupper()


def settings_written_after_the_fact(source: str) -> list[str]:
    """Every place where config/settings.py changes a setting it already wrote: a second assignment, `+=`, an item
    assignment or a mutating method call (`INSTALLED_APPS.remove(...)`, `REST_FRAMEWORK[...] = ...`). Helper
    functions' own locals are not settings, so function bodies are skipped."""
    found: list[str] = []
    bound: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
            return  # a helper's locals are not settings

        def visit_Assign(self, node: ast.Assign) -> None:
            for target in node.targets:
                self._target(target, node.lineno)
            self.generic_visit(node)

        def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
            self._target(node.target, node.lineno)
            self.generic_visit(node)

        def visit_AugAssign(self, node: ast.AugAssign) -> None:
            if _is_setting(_root_name(node.target)):
                found.append(f"line {node.lineno}: {ast.unparse(node.target)} augmented")
            self.generic_visit(node)

        def visit_Call(self, node: ast.Call) -> None:
            func = node.func
            mutating = isinstance(func, ast.Attribute) and func.attr in MUTATING_METHODS
            if mutating and _is_setting(_root_name(func.value)):
                found.append(f"line {node.lineno}: {ast.unparse(func)}(...)")
            self.generic_visit(node)

        def _target(self, target: ast.AST, line: int) -> None:
            if isinstance(target, ast.Name) and _is_setting(target.id):
                if target.id in bound:
                    found.append(f"line {line}: {target.id} assigned again")
                bound.add(target.id)
            elif isinstance(target, ast.Subscript | ast.Attribute) and _is_setting(_root_name(target)):
                found.append(f"line {line}: {ast.unparse(target)} assigned")
            elif isinstance(target, ast.Tuple | ast.List):
                for element in target.elts:
                    self._target(element, line)

    Visitor().visit(ast.parse(source))
    return found


def test_every_setting_is_written_once_in_its_own_literal():
    # A setting patched further down the file (`INSTALLED_APPS += [...]`, `REST_FRAMEWORK["X"] = ...`) is read
    # wrongly by anyone who stops at its literal: each is written in one place, its comments beside its entries.
    assert settings_written_after_the_fact((REPO / "config" / "settings.py").read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "patch",
    [
        'INSTALLED_APPS += ["x"]',
        'INSTALLED_APPS.remove("x")',
        'MIDDLEWARE.insert(0, "x")',
        'REST_FRAMEWORK["X"] = 1',
        'CELERY_BEAT_SCHEDULE["x"]["schedule"] = 1',
        'TEMPLATES[0]["OPTIONS"]["context_processors"].append("x")',
        "DEBUG = False",
    ],
)
def test_the_settings_check_sees_each_kind_of_patch(patch):
    source = 'DEBUG = True\nINSTALLED_APPS = ["a"]\nMIDDLEWARE = []\nREST_FRAMEWORK = {}\n'
    source += 'CELERY_BEAT_SCHEDULE = {"x": {}}\nTEMPLATES = [{"OPTIONS": {"context_processors": []}}]\n'
    assert settings_written_after_the_fact(source) == []
    assert len(settings_written_after_the_fact(source + patch + "\n")) == 1


def _redis_keys(**env: str) -> dict:
    code = (
        "import json; from config import settings as s; print(json.dumps([s.CELERY_BROKER_TRANSPORT_OPTIONS"
        "['global_keyprefix'], s.RATE_LIMIT_KEY_PREFIX, s.DISPATCH_KEY_PREFIX, s.MODERATION_CACHE_KEY_PREFIX]))"
    )
    dropped = {"DJANGO_SETTINGS_MODULE", "REDIS_KEY_PREFIX", "DATABASE_URL"}
    full_env = {k: v for k, v in os.environ.items() if k not in dropped} | {"DEBUG": "1", **env}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=full_env, capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(done.stdout)


def test_two_installations_on_one_redis_keep_their_keys_apart():
    """Two checkouts on one machine, each with its own database, shared Redis: the second one's workers took the
    first one's tasks (queues had no prefix) and both paced against one quota. Every key starts with the
    database's name now, or REDIS_KEY_PREFIX."""
    first = _redis_keys(DATABASE_URL="postgres://postgres@127.0.0.1:5432/dam")
    second = _redis_keys(DATABASE_URL="postgres://postgres@127.0.0.1:5432/dam_2")
    assert first == ["dam:", "dam:ratelimit", "dam:dispatch", "dam:moderation"]  # pacing keys as they were
    assert all(b.startswith("dam_2:") for b in second)
    assert _redis_keys(REDIS_KEY_PREFIX="shop-eu")[0] == "shop-eu:"
