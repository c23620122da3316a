from __future__ import annotations

import csv
import io
import re

import pytest
from django.core.management import CommandError, call_command

from subscriptions.addresses import address_hash
from subscriptions.consent.importing import import_run, import_start
from subscriptions.consent.ledger import Actor
from subscriptions.consent.subscriptions import contact_unsubscribe_all, subscription_unsubscribe
from subscriptions.consent.suppression import suppression_add
from subscriptions.models import ConsentEvent, Contact, Import, Subscription
from subscriptions.models.choices import ImportRowOutcome
from tests.factories import ContactFactory, SubscriptionFactory

# Staff adding a suppression by hand (source `admin`).
STAFF = Actor(source="admin")


def write(tmp_path, content: bytes | str, name="contacts.csv"):
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return str(path)


def run(path, *args, topic="product-news"):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "import_contacts",
        path,
        "--topic",
        topic,
        "--source",
        "crm-2026",
        "--no-progress",
        *args,
        stdout=out,
        stderr=err,
    )
    return out.getvalue()


def status(email, topic):
    return Subscription.objects.get(contact__email=email, topic=topic).status


def test_it_creates_and_subscribes_with_source_and_legal_basis(tmp_path, topic):
    path = write(tmp_path, "email,first_name,locale,external_id\nAnn@Example.COM,Ann,da,u-1\n")
    out = run(path, "--legal-basis", "soft_opt_in")
    assert "1 contacts created" in out and "1 subscribed" in out
    contact = Contact.objects.get(email="Ann@example.com")
    assert (contact.locale, contact.external_id, contact.attributes) == (
        "da",
        "u-1",
        {"first_name": "Ann"},
    )
    subscription = Subscription.objects.get(contact=contact, topic=topic)
    assert (subscription.status, subscription.legal_basis) == ("subscribed", "soft_opt_in")
    event = ConsentEvent.objects.get(contact=contact)
    assert (event.source, event.actor) == ("import", "import:crm-2026")
    done = Import.objects.get()
    assert event.evidence == f"import:crm-2026 legal_basis=soft_opt_in import_id={done.pk}"


def test_it_never_subscribes_the_unsubscribed_or_suppressed(tmp_path, topic, other_topic):
    actor = Actor(source="preference_page")
    left = ContactFactory(email="left@example.com")
    SubscriptionFactory(contact=left, topic=topic)
    subscription_unsubscribe(contact=left, topic=topic, by=actor)
    all_out = ContactFactory(email="allout@example.com")
    SubscriptionFactory(contact=all_out, topic=other_topic)
    contact_unsubscribe_all(contact=all_out, by=actor)
    suppression_add(email="bounced@example.com", reason="hard_bounce", by=STAFF)
    ledger = ConsentEvent.objects.count()
    path = write(
        tmp_path,
        "email\nleft@example.com\nallout@example.com\nbounced@example.com\nnew@example.com\n",
    )
    report = tmp_path / "report.csv"
    run(path, "--report", str(report))
    assert status("left@example.com", topic) == "unsubscribed"
    assert not Subscription.objects.filter(contact=all_out, topic=topic).exists()
    assert not Contact.objects.filter(email="bounced@example.com").exists()
    assert status("new@example.com", topic) == "subscribed"
    assert ConsentEvent.objects.count() == ledger + 1  # only the new subscriber's
    # The report lists the rows not subscribed; a suppressed (perhaps erased) address is never
    # written into it, only its line.
    rows = [(r["line"], r["email"], r["outcome"]) for r in csv.DictReader(report.open())]
    assert rows == [
        ("2", "left@example.com", ImportRowOutcome.KEPT_UNSUBSCRIBED),
        ("3", "", ImportRowOutcome.KEPT_SUPPRESSED),
        ("4", "", ImportRowOutcome.KEPT_SUPPRESSED),
    ]


def test_it_imports_valid_rows_reports_invalid_ones_and_fails(tmp_path, topic):
    path = write(
        tmp_path,
        'email,first_name\nok@example.com,Ok\nnot-an-address,X\n,Empty\n"a@b.com",1,2\n'
        "fine@example.com,Fine\n",
    )
    report = tmp_path / "report.csv"
    with pytest.raises(CommandError, match="3 rows were invalid"):
        run(path, "--report", str(report))
    assert status("ok@example.com", topic) == "subscribed"
    assert status("fine@example.com", topic) == "subscribed"
    invalid = [row for row in csv.DictReader(report.open()) if row["outcome"] == "invalid"]
    assert [(row["line"], row["detail"]) for row in invalid] == [
        ("3", "not an email address"),
        ("4", "email is empty"),
        ("5", "3 fields, header has 2"),
    ]


def test_it_reports_a_badly_encoded_row_and_imports_the_rest(tmp_path, topic):
    content = "email,first_name\nzoe@example.com,Zoë\n".encode() + "rene@example.com,René\n".encode(
        "latin-1"
    )
    report = tmp_path / "report.csv"
    with pytest.raises(CommandError):
        run(write(tmp_path, content), "--report", str(report))
    assert Contact.objects.get(email="zoe@example.com").attributes == {"first_name": "Zoë"}
    assert not Contact.objects.filter(email="rene@example.com").exists()
    rows = list(csv.DictReader(report.open()))
    assert rows[-1]["detail"] == "not UTF-8 text" and rows[-1]["line"] == "3"


def test_it_refuses_a_file_that_is_not_utf8(tmp_path, topic):
    path = write(tmp_path, "email\nzoe@example.com\n".encode("utf-16"))
    with pytest.raises(CommandError, match="not UTF-8"):
        run(path)
    assert Contact.objects.count() == 0


def test_it_accepts_a_utf8_bom_and_windows_line_ends(tmp_path, topic):
    run(write(tmp_path, "\ufeffemail\r\nbom@example.com\r\n".encode()))
    assert status("bom@example.com", topic) == "subscribed"


@pytest.mark.parametrize("content", ["", "\n\n", "first_name\nAnn\n", "ann@example.com\n"])
def test_it_refuses_a_file_without_an_email_header(tmp_path, topic, content):
    with pytest.raises(CommandError, match="Missing header"):
        run(write(tmp_path, content))
    assert Contact.objects.count() == 0


def test_it_skips_blank_lines(tmp_path, topic):
    out = run(write(tmp_path, "\nemail\n\na@example.com\n\n ,  \nb@example.com\n\n"))
    assert "2 subscribed" in out and "0 invalid" in out


def test_it_reports_a_one_megabyte_line_and_goes_on(tmp_path, topic):
    huge = "x" * (1024 * 1024)
    content = f"email,note\nbefore@example.com,a\nhuge@example.com,{huge}\nafter@example.com,b\n"
    report = tmp_path / "report.csv"
    with pytest.raises(CommandError, match="1 rows were invalid"):
        run(write(tmp_path, content), "--report", str(report))
    assert status("before@example.com", topic) == "subscribed"
    assert status("after@example.com", topic) == "subscribed"
    assert not Contact.objects.filter(email="huge@example.com").exists()
    invalid = [row for row in csv.DictReader(report.open()) if row["outcome"] == "invalid"]
    assert invalid[0]["line"] == "3" and "longer than" in invalid[0]["detail"]


def test_it_refuses_an_unknown_topic(tmp_path, topic):
    with pytest.raises(
        CommandError, match=re.escape("Unknown topic 'nope'. Known topics: product-news.")
    ):
        run(write(tmp_path, "email\na@example.com\n"), topic="nope")
    assert Contact.objects.count() == 0


def test_it_changes_nothing_in_a_dry_run(tmp_path, topic):
    out = run(write(tmp_path, "email\na@example.com\nb@example.com\n"), "--dry-run")
    assert out.startswith("dry run, nothing written: 2 rows") and "2 subscribed" in out
    assert Contact.objects.count() == 0
    assert ConsentEvent.objects.count() == 0


def test_it_updates_existing_contacts_and_keeps_subscribers(tmp_path, topic, subscribed_alice):
    out = run(write(tmp_path, "email,first_name\nalice@example.com,Alice\n"))
    assert "1 updated" in out and "1 already subscribed" in out
    subscribed_alice.refresh_from_db()
    assert subscribed_alice.attributes == {"first_name": "Alice"}
    assert ConsentEvent.objects.count() == 0


def test_it_reports_an_external_id_taken_by_another_contact(tmp_path, topic):
    ContactFactory(email="owner@example.com", external_id="u-1")
    with pytest.raises(CommandError):
        run(write(tmp_path, "email,external_id\nthief@example.com,u-1\nok@example.com,u-2\n"))
    assert not Contact.objects.filter(email="thief@example.com").exists()
    assert status("ok@example.com", topic) == "subscribed"


def test_it_runs_through_the_service_with_counts_and_report(topic):
    run = import_start(
        file=io.BytesIO(b"email\na@example.com\nbad\n"),
        filename="list.csv",
        mode="subscribe",
        topic=topic,
        source="test",
        actor=Actor(source="import"),
        run_async=False,
    )
    assert run.status == "queued" and run.size_bytes == 24
    seen = []
    run = import_run(run.pk, progress=lambda current: seen.append(current.rows))
    assert (run.status, run.rows, seen) == ("done", 2, [2])
    assert run.counts["created"] == 1 and run.counts[ImportRowOutcome.SUBSCRIBED] == 1
    assert list(run.row_errors.values_list("line", "outcome", "email", "detail")) == [
        (3, ImportRowOutcome.INVALID, "bad", "not an email address")
    ]
    assert not run.file_chunks.exists()  # the stored file is gone once the run ends
    assert Contact.objects.get(email="a@example.com").address_hash == address_hash("a@example.com")


def test_it_reports_overlong_fields(tmp_path, topic):
    long_id = "u" * 300
    with pytest.raises(CommandError, match="2 rows were invalid"):
        run(
            write(
                tmp_path,
                f"email,external_id,locale\na@example.com,{long_id},en\nb@example.com,,xx-verylongtag\n"
                "c@example.com,,da\n",
            )
        )
    assert list(Contact.objects.values_list("email", flat=True)) == ["c@example.com"]


def test_it_imports_a_suppression_list_and_refuses_one_without_a_reason(tmp_path, db):
    path = write(tmp_path, "email\ngone@example.com\nGONE@example.com\n")
    with pytest.raises(CommandError, match="needs a reason") as refused:
        call_command("import_contacts", path, "--suppress", "--source", "esp", "--no-progress")
    assert refused.value.returncode == 2
    out = io.StringIO()
    call_command(
        "import_contacts",
        path,
        "--suppress",
        "--reason",
        "hard_bounce",
        "--source",
        "esp",
        "--no-progress",
        stdout=out,
    )
    assert "2 rows: 1 suppressed, 0 already suppressed, 0 invalid, 1 duplicate" in out.getvalue()
    assert not Contact.objects.exists()


def test_a_bad_file_exits_with_status_2(tmp_path, topic):
    with pytest.raises(CommandError, match="Missing header") as refused:
        run(write(tmp_path, "name\nAnn\n"))
    assert refused.value.returncode == 2
