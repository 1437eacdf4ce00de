"""The pii stage on the planted forms and near-misses of pii_forms.py, one test each: every form
replaced (with its URL or sentence around it kept), every near-miss left exactly as it was."""

from __future__ import annotations

import pytest

from curate.core.params import build_params
from curate.core.schema import make_documents
from curate.pii.stage import IP_REPLACEMENTS, PHONE_REPLACEMENT, PiiParams, PiiStage
from pii_forms import FORMS, NEAR_MISSES, PHONE_FORMS


def redacted(text: str, **params) -> tuple[str, int]:
    stage = PiiStage("pii", build_params(PiiParams, params, "test"))
    stage.setup()
    table = stage.process(make_documents([{"id": "planted", "source": "web", "text": text}])).table
    counts = sum(table[c][0].as_py() for c in table.column_names if c.startswith("pii_"))
    return table["text"][0].as_py(), counts


@pytest.mark.parametrize("name, text, secrets, kept", FORMS, ids=[f[0] for f in FORMS])
def test_form_is_replaced_by_default(name, text, secrets, kept):
    out, count = redacted(text)
    assert count == len(secrets)
    assert not any(secret in out for secret in secrets), out
    assert all(piece in out for piece in kept), out


@pytest.mark.parametrize("name, text, secrets, kept", PHONE_FORMS, ids=[f[0] for f in PHONE_FORMS])
def test_phone_form_is_replaced_only_when_asked(name, text, secrets, kept):
    assert redacted(text) == (text, 0)
    out, count = redacted(text, phones=True)
    assert count == len(secrets) and "+1-555-0100" in out
    assert not any(secret in out for secret in secrets), out
    assert all(piece in out for piece in kept), out


@pytest.mark.parametrize("name, text", NEAR_MISSES, ids=[n[0] for n in NEAR_MISSES])
def test_near_miss_is_left_alone(name, text):
    assert redacted(text, phones=True) == (text, 0)


def test_remove_mode_cuts_an_address_out_of_a_url_and_keeps_the_rest():
    out, count = redacted(
        "https://news.example.org/unsubscribe?email=t.mueller@gmx.de&list=7 and 2606:4700:4700::1111", mode="remove"
    )
    assert (out, count) == ("https://news.example.org/unsubscribe?email=&list=7 and ", 2)


def test_an_ipv4_address_or_its_placeholder_is_never_taken_for_a_phone_number():
    text = "connect to 151.101.10.69 or call 555 123 4567"
    assert redacted(text, ips=False, phones=True) == (f"connect to 151.101.10.69 or call {PHONE_REPLACEMENT}", 1)
    stage = PiiStage("pii", build_params(PiiParams, {"phones": True}, "test"))
    stage.setup()
    rows = [{"id": f"doc-{i}", "source": "web", "text": text} for i in range(24)]  # ids that pick every placeholder
    table = stage.process(make_documents(rows)).table
    assert table["pii_ips"].to_pylist() == [1] * 24 and table["pii_phones"].to_pylist() == [1] * 24
    placed = {out.split()[2] for out in table["text"].to_pylist()}
    assert placed == set(IP_REPLACEMENTS), placed  # six placeholders, each kept as written
