"""`manage.py check --deploy` is clean under a production-like environment."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        # Nothing inherited from the test run (its DEBUG, hosts or keys) may leak in.
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "prefcenter.settings",
        "PREFCENTER_VAR_DIR": str(tmp_path / "var"),
        "DEBUG": "0",
        "SITE_URL": "https://prefs.example.com",
        "ALLOWED_HOSTS": "prefs.example.com",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SUPPRESSION_HASH_KEY": secrets.token_urlsafe(32),
        "POSTAL_ADDRESS": "Example Inc., 1 Main Street, 1000 Example City",
        "ANYMAIL_WEBHOOK_SECRET": "esp:" + secrets.token_urlsafe(24),
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/5",
    }
    return {**env, **overrides}


def run_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    # --fail-level WARNING turns any warning into a non-zero exit, so the test can fail.
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_passes_the_deploy_checks_with_production_settings(tmp_path):
    result = run_check(production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    ("name", "value", "check_id"),
    [
        ("SECRET_KEY", "short", "security.W009"),
        ("DEBUG", "1", "security.W018"),
    ],
)
def test_it_reports_an_unsafe_production_setting(tmp_path, name, value, check_id):
    result = run_check(production_env(tmp_path, **{name: value}))
    assert result.returncode != 0
    assert check_id in result.stdout + result.stderr
