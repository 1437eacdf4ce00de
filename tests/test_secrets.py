"""The secrets stage: planted secrets of every kind replaced by typed placeholders, the code still parsing,
near-misses (lock-file hashes, UUIDs, base64 fixtures, hex constants, templates) left alone; the real
standard-library packages the demo uses lose no code to false positives."""

from __future__ import annotations

import ast
import json
import random
import sysconfig
from pathlib import Path

import pytest

from code_fixtures import NEAR_MISSES, planted_secrets
from conftest import read_rejected, read_stage
from curate.api import Pipeline, Stage
from curate.core.params import ConfigError, build_params
from curate.core.schema import make_documents
from curate.secrets.stage import KINDS, PLACEHOLDERS, SecretsParams, SecretsStage


def scrub(texts: list[str], **params):
    stage = SecretsStage("secrets", build_params(SecretsParams, params, "test"))
    rows = [{"id": str(i), "source": "code", "text": text} for i, text in enumerate(texts)]
    verdict = stage.process(make_documents(rows))
    assert all(reason is None for reason in verdict.reasons)  # secrets edits, never drops
    return verdict.table["text"].to_pylist(), verdict.table["secrets_removed"].to_pylist(), verdict.counters


@pytest.mark.parametrize("seed", range(3))
def test_each_planted_secret_becomes_its_placeholder_and_the_file_still_parses(seed):
    planted = planted_secrets(random.Random(seed))
    assert sorted(kind for kind, _, _ in planted) == sorted(KINDS)  # one of each
    texts, removed, counters = scrub([f"import os\n\n{line}\nprint('ok')\n" for _, _, line in planted])
    for (kind, secret, line), text, count in zip(planted, texts, removed):
        assert secret not in text, kind
        assert PLACEHOLDERS[kind] in text, kind
        assert count == 1, (kind, text)
        ast.parse(text)  # a replaced string literal is still a string literal
    assert {kind: counters[f"secrets_{kind}"] for kind in KINDS} == dict.fromkeys(KINDS, 1)


def test_near_misses_survive():
    texts, removed, _ = scrub(NEAR_MISSES)
    assert [t for t, original in zip(texts, NEAR_MISSES) if t != original] == []
    assert removed == [0] * len(NEAR_MISSES)


def test_a_second_pass_finds_nothing_and_kinds_can_be_switched_off():
    once, _, _ = scrub(["\n".join(line for _, _, line in planted_secrets(random.Random(7)))])
    twice, removed, _ = scrub(once)
    assert twice == once and removed == [0]
    line = 'AWS = "AKIAIOSFODNN7EXAMPLE"  # ops@acme-corp.io'
    texts, _, _ = scrub([line], kinds=["email"])
    assert texts == ['AWS = "AKIAIOSFODNN7EXAMPLE"  # <EMAIL>']
    with pytest.raises(ValueError, match="unknown 'aws'"):
        SecretsParams(kinds=["aws"])


@pytest.mark.slow
def test_in_a_pipeline_the_counts_per_kind_reach_stats_and_report(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    planted = planted_secrets(random.Random(1))
    (repo / "settings.py").write_text("\n".join(line for _, _, line in planted) + "\n")
    (repo / "clean.py").write_text("\n".join(NEAR_MISSES) + "\n")
    out = tmp_path / "out"
    Pipeline.of(str(repo), str(out), [Stage("extract", source="code"), Stage("secrets")]).run()
    kept = {r["relative_path"]: r for r in read_stage(out, "secrets").to_pylist()}
    assert read_rejected(out, "secrets") is None
    assert kept["settings.py"]["secrets_removed"] == len(KINDS) and kept["clean.py"]["secrets_removed"] == 0
    ast.parse(kept["settings.py"]["text"])
    counters = json.loads((out / "stats" / "secrets.json").read_text())["counters"]
    edits = json.loads((out / "reports" / "secrets" / "edits.json").read_text())
    assert edits == counters and {counters[f"secrets_{kind}_documents"] for kind in KINDS} == {1}

    from curate.report.page import render
    from curate.report.run import load_run

    page = render(load_run(out))
    assert "secrets_private_key" in page and "secrets_jwt" in page


def test_the_standard_library_packages_of_the_demo_lose_no_code_to_false_positives():
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for package in ("json", "email", "asyncio") for p in (stdlib / package).rglob("*.py"))
    texts = [p.read_text(encoding="utf-8") for p in files]
    _, _, counters = scrub(texts)
    # no keys or passwords in them; the e-mail addresses are real (authors in comments)
    assert {kind: counters[f"secrets_{kind}"] for kind in KINDS if kind not in ("email", "ip")} == dict.fromkeys(
        [k for k in KINDS if k not in ("email", "ip")], 0
    )
    assert counters["secrets_email"] > 0


def test_an_unknown_kind_in_a_pipeline_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigError, match="kinds"):
        Pipeline.of(
            str(tmp_path),
            str(tmp_path / "out"),
            [Stage("extract", source="code"), Stage("secrets", kinds=["jwt", "jwts"])],
        )
