"""prefcenter/settings.py reads top to bottom once, every variable through a typed helper, and
.env.example documents every one of them in the same order (issue 10)."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from prefcenter.celery import app

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "prefcenter" / "settings.py"
ENV_EXAMPLE = ROOT / ".env.example"


def settings_tree() -> ast.Module:
    return ast.parse(SETTINGS.read_text())


def variables_read_by_settings() -> list[str]:
    """Every variable settings.py reads, in reading order: the first argument of an env_* call."""
    calls = [
        node
        for node in ast.walk(settings_tree())
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id.startswith("env_")
        and node.args
        and isinstance(node.args[0], ast.Constant)
    ]
    calls.sort(key=lambda node: (node.lineno, node.col_offset))
    return list(dict.fromkeys(node.args[0].value for node in calls))


def documented_variables() -> list[str]:
    names = re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), re.M)
    return list(dict.fromkeys(names))


def test_it_documents_every_variable_settings_reads_in_env_example():
    read = variables_read_by_settings()
    # The helpers' own calls prove the walk finds multi-line and wrapped reads too.
    assert {"SECRET_KEY", "EMAIL_BACKEND", "SILENCED_SYSTEM_CHECKS", "PREFCENTER_VAR_DIR"} <= set(
        read
    )
    assert {"CELERY_BEAT_SCHEDULE_SECONDS", "LEDGER_CHECKPOINT_MINUTES"} <= set(read)

    missing = [name for name in read if name not in documented_variables()]
    assert not missing, f"add to .env.example: {missing}"


def test_it_gives_every_variable_in_env_example_a_comment_and_its_default():
    lines = ENV_EXAMPLE.read_text().splitlines()
    read = set(variables_read_by_settings())
    undocumented = []
    for at, line in enumerate(lines):
        match = re.match(r"^#? ?([A-Z][A-Z0-9_]+)=(.*)$", line)
        if not match or match[1] not in read:
            continue
        # Walk up over neighbouring variable lines (e.g. the SMTP group) to the comment.
        above = at - 1
        while above >= 0 and re.match(r"^#? ?[A-Z][A-Z0-9_]+=", lines[above]):
            above -= 1
        comment = lines[above] if above >= 0 else ""
        has_default = "Default:" in comment or "REQUIRED" in comment or match[2] != ""
        if not comment.startswith("# ") or not has_default:
            undocumented.append(match[1])
    assert not undocumented, f"give these a comment and their default: {undocumented}"


def test_it_lists_env_example_in_the_order_settings_reads():
    read = variables_read_by_settings()
    documented = [name for name in documented_variables() if name in set(read)]

    assert documented == read


def test_it_reads_the_environment_only_through_the_typed_helpers():
    outside_helpers = []

    def visit(node: ast.AST, in_helper: bool) -> None:
        if isinstance(node, ast.FunctionDef):
            in_helper = node.name.startswith("env_")
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "environ"
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
            and not in_helper
        ):
            outside_helpers.append(node.lineno)
        for child in ast.iter_child_nodes(node):
            visit(child, in_helper)

    visit(settings_tree(), False)
    # One exception: ANYMAIL_<NAME> is a family of names read by prefix, not one variable.
    source = SETTINGS.read_text().splitlines()
    assert [source[line - 1].strip() for line in outside_helpers] == [
        "for key, value in os.environ.items()"
    ]
    celery_source = (ROOT / "prefcenter" / "celery.py").read_text()
    assert "os.environ.get" not in celery_source
    assert "beat_schedule" not in celery_source


def test_it_defines_every_setting_once():
    assigned: list[str] = []
    changed_later: list[str] = []
    for node in settings_tree().body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        assigned += [t.id for t in targets if isinstance(t, ast.Name) and t.id.isupper()]
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            changed_later.append(node.target.id)
        # MIDDLEWARE.insert(...), TEMPLATES[0][...].append(...): a setting patched after the fact.
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            func = node.value.func
            if isinstance(func, ast.Attribute) and func.attr in {"insert", "append", "extend"}:
                changed_later.append(ast.unparse(func))
    twice = sorted({name for name in assigned if assigned.count(name) > 1})
    assert not twice, f"defined more than once: {twice}"
    assert not changed_later, f"changed after its definition: {changed_later}"


def test_it_keeps_the_startup_check_last():
    last = settings_tree().body[-1]

    assert isinstance(last, ast.If)
    assert "MISSING_REQUIRED_SETTINGS" in ast.unparse(last.test)
    assert "STARTUP_CHECK_EXEMPT_COMMANDS" in ast.unparse(last.test)


BEAT = """
import json
from prefcenter.celery import app
print(json.dumps({name: [entry["task"], repr(entry["schedule"])]
                  for name, entry in app.conf.beat_schedule.items()}))
"""


def beat_schedule(**environ: str) -> dict[str, list[str]]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "prefcenter.test_settings", **environ}
    result = subprocess.run(
        [sys.executable, "-c", BEAT], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def test_it_keeps_the_whole_beat_schedule_in_settings():
    assert beat_schedule() == {
        "sweep-campaigns": ["subscriptions.tasks.marketing.sweep_campaigns", "60.0"],
        "requeue-transactional": [
            "subscriptions.tasks.transactional.requeue_transactional",
            "60.0",
        ],
        "ledger-checkpoint": ["subscriptions.tasks.ledger.checkpoint_ledger", "600"],
        "deliver-webhooks": ["subscriptions.tasks.webhooks.sweep_webhooks", "60.0"],
        "privacy-apply-retention": [
            "subscriptions.tasks.retention.apply_retention",
            "<crontab: 17 3 * * * (m/h/dM/MY/d)>",
        ],
    }


def test_it_reads_the_beat_intervals_from_the_environment():
    schedule = beat_schedule(
        CELERY_BEAT_SCHEDULE_SECONDS="30", LEDGER_CHECKPOINT_MINUTES="5", RETENTION_HOUR="4"
    )

    assert schedule["sweep-campaigns"][1] == schedule["requeue-transactional"][1] == "30.0"
    assert schedule["ledger-checkpoint"][1] == "300"
    assert schedule["privacy-apply-retention"][1] == "<crontab: 17 4 * * * (m/h/dM/MY/d)>"


def test_every_beat_entry_names_a_registered_task():
    app.loader.import_default_modules()

    for name, entry in app.conf.beat_schedule.items():
        assert entry["task"] in app.tasks, name
