"""With DEBUG off, no process starts without the secrets production needs (issue 9, road 6).

Each test runs a real process — `manage.py`, the WSGI module gunicorn loads, a Celery worker —
with a stripped environment, and expects it to exit non-zero naming EVERY missing variable in
one message.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
REQUIRED = ["SECRET_KEY", "SUPPRESSION_HASH_KEY", "POSTAL_ADDRESS", "ANYMAIL_WEBHOOK_SECRET"]


def stripped_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """Only what a bare production host would have: nothing from the test run leaks in."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "prefcenter.settings",
        "PREFCENTER_VAR_DIR": str(tmp_path / "var"),
        "DEBUG": "false",
        "SITE_URL": "https://prefs.example.com",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused",
        # Db 15 of the loopback Redis: a worker that wrongly started would find nothing there.
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15",
    }
    env.update(overrides)
    return {name: value for name, value in env.items() if value is not None}


def complete_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    values = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SUPPRESSION_HASH_KEY": secrets.token_urlsafe(32),
        "POSTAL_ADDRESS": "Example Inc., 1 Main Street, 1000 Example City",
        "ANYMAIL_WEBHOOK_SECRET": "esp:" + secrets.token_urlsafe(24),
    }
    return stripped_env(tmp_path, **{**values, **overrides})


def run(args: list[str], env: dict[str, str], timeout: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def missing_line(result: subprocess.CompletedProcess) -> str:
    """The one line of output that names the missing variables."""
    lines = [line for line in result.stderr.splitlines() if "refuses to start" in line]
    assert len(lines) >= 1, result.stdout + result.stderr
    return lines[-1]


PROCESSES = {
    "manage.py check": [sys.executable, "manage.py", "check"],
    "manage.py send_campaign": [sys.executable, "manage.py", "send_campaign", "1"],
    "manage.py migrate": [sys.executable, "manage.py", "migrate", "--plan"],
    "wsgi (gunicorn's import)": [sys.executable, "-c", "import prefcenter.wsgi"],
    "celery worker": [str(BIN / "celery"), "-A", "prefcenter", "worker", "--pool=solo", "-Q", "x"],
    "celery beat": [str(BIN / "celery"), "-A", "prefcenter", "beat", "--schedule=/dev/null"],
    # The real server, as the image starts it (not just the module it imports).
    "gunicorn": [
        *(str(BIN / "gunicorn"), "-c", "python:prefcenter.gunicorn_conf"),
        *("prefcenter.wsgi:application", "--bind", "127.0.0.1:0", "--workers", "1"),
    ],
    # Django runs its own settings-free commands even when the settings fail to load.
    "manage.py shell": [sys.executable, "manage.py", "shell", "-c", "print('shell started')"],
    "manage.py help": [sys.executable, "manage.py", "help"],
}


@pytest.mark.parametrize("process", PROCESSES)
def test_it_refuses_to_start_naming_every_missing_variable_at_once(tmp_path, process):
    result = run(PROCESSES[process], stripped_env(tmp_path))
    assert result.returncode != 0
    assert "shell started" not in result.stdout
    line = missing_line(result)
    for name in REQUIRED:
        assert name in line, line


def test_it_names_only_what_is_missing(tmp_path):
    result = run(PROCESSES["manage.py check"], complete_env(tmp_path, POSTAL_ADDRESS=None))
    assert result.returncode != 0
    line = missing_line(result)
    assert "POSTAL_ADDRESS" in line
    assert "SECRET_KEY" not in line
    assert "Traceback" not in result.stderr  # manage.py says what is wrong, plainly


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (
            {"ESP_WEBHOOKS": "postmark,sendgrid"},
            "ANYMAIL_SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY",
        ),
        ({"ESP_WEBHOOKS": "mailgun"}, "ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY"),
        ({"ESP_WEBHOOKS": "mandrill"}, "ANYMAIL_MANDRILL_WEBHOOK_KEY"),
        ({"ESP_WEBHOOKS": "mailersend"}, "ANYMAIL_MAILERSEND_SIGNING_SECRET"),
        ({"ESP_WEBHOOKS": "resend"}, "ANYMAIL_RESEND_SIGNING_SECRET"),
        ({"ESP_WEBHOOKS": "unisender_go"}, "ANYMAIL_UNISENDER_GO_API_KEY"),
        ({"ESP_WEBHOOKS": "postal"}, "ANYMAIL_POSTAL_WEBHOOK_KEY"),
        ({"ESP_WEBHOOKS": "mailtrap"}, "ANYMAIL_MAILTRAP_TRACKING_SECRET"),
        # The default ESP_WEBHOOKS: the ESP of the configured email backend.
        ({"EMAIL_BACKEND": "anymail.backends.mailgun.EmailBackend"}, "MAILGUN_WEBHOOK_SIGNING_KEY"),
        (
            {"MARKETING_EMAIL_BACKEND": "anymail.backends.sendgrid.EmailBackend"},
            "ANYMAIL_SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY",
        ),
    ],
)
def test_it_refuses_to_start_without_the_signing_key_of_a_mounted_esp(tmp_path, overrides, key):
    result = run(PROCESSES["manage.py check"], complete_env(tmp_path, **overrides))
    assert result.returncode != 0
    assert key in missing_line(result)


def test_it_names_the_signing_key_together_with_the_other_missing_variables(tmp_path):
    result = run(
        PROCESSES["wsgi (gunicorn's import)"], stripped_env(tmp_path, ESP_WEBHOOKS="mailgun")
    )
    assert result.returncode != 0
    line = missing_line(result)
    for name in [*REQUIRED, "ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY"]:
        assert name in line


def test_it_refuses_an_unknown_esp_name(tmp_path):
    result = run(PROCESSES["manage.py check"], complete_env(tmp_path, ESP_WEBHOOKS="postmark,acme"))
    assert result.returncode != 0
    assert "acme" in result.stderr


def test_it_starts_when_everything_is_set(tmp_path):
    env = complete_env(
        tmp_path,
        ESP_WEBHOOKS="postmark,amazon_ses,mailgun",
        ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY="key-" + secrets.token_hex(16),
    )
    result = run(PROCESSES["manage.py check"], env)
    assert result.returncode == 0, result.stderr
    assert run(PROCESSES["wsgi (gunicorn's import)"], env).returncode == 0


def test_it_lets_doctor_through_to_report_what_is_missing(tmp_path):
    # `doctor` is the one command exempt by name: the settings load without the secrets, so the
    # command itself (not yet built) is what answers.
    result = run([sys.executable, "manage.py", "doctor"], stripped_env(tmp_path))
    assert "refuses to start" not in result.stdout + result.stderr


def test_it_starts_in_debug_with_development_values(tmp_path):
    result = run(PROCESSES["manage.py check"], stripped_env(tmp_path, DEBUG="true"))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "option", [["--settings=prefcenter.test_settings"], ["--settings", "prefcenter.test_settings"]]
)
def test_it_reads_the_settings_a_command_names(tmp_path, option):
    # The settings are read before Django parses the command line, so --settings is honoured
    # first: the test settings carry their own development values, the production ones do not.
    result = run([sys.executable, "manage.py", "check", *option], stripped_env(tmp_path))
    assert result.returncode == 0, result.stderr
