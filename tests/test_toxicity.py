"""The toxicity stage through `curate run`: URL blocklist, bad-word ratio, classifier, each with its reason."""

from __future__ import annotations

import csv
from urllib.parse import urlsplit

import pytest

from classify_fixtures import jigsaw_texts, write_docs, write_pipeline
from conftest import read_rejected, read_stage, run_curate
from curate.core.params import ConfigError
from curate.core.pipeline import load_pipeline
from curate.toxicity import blocklist as blocklist_module
from curate.toxicity.blocklist import canonical_host, domain_of_entry, load_blocklist, url_host

# under pytest-xdist (-n 2 --dist loadgroup) on one worker: one trained model (conftest jigsaw_model) for this module and test_classify
pytestmark = pytest.mark.xdist_group("jigsaw")

BLOCKLIST = """# adult and scam domains
example.com
*.casino.test        # wildcard form
0.0.0.0 tracker.test # hosts-file form
https://Bücher.test/some/page
"""
# Words common in the Davidson offensive tweets (a real list would be e.g. LDNOOBW's en file)
BAD_WORDS = "# test list\nbitch\nbitches\nhoe\nhoes\nfuck\nnigga\n"


@pytest.fixture(scope="module")
def lists(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lists")
    (folder / "blocked.txt").write_text(BLOCKLIST, encoding="utf-8")
    (folder / "bad_words.txt").write_text(BAD_WORDS, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def model(jigsaw_model):
    return jigsaw_model  # conftest: trained once for this module and test_classify.py


@pytest.fixture(scope="module")
def davidson(shared_data):
    """Real tweets: offensive ones (class 1) and ones annotators marked neither (class 2)."""
    with open(shared_data / "toxicity" / "davidson2017" / "labeled_data.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return {c: [r["tweet"] for r in rows if r["class"] == c][:200] for c in ("1", "2")}


@pytest.mark.parametrize(
    "url, blocked",
    [
        ("https://example.com/", "example.com"),
        ("http://a.b.example.com/page?q=1", "example.com"),
        ("HTTP://WWW.EXAMPLE.COM:8080/x", "example.com"),
        ("https://example.com./", "example.com"),
        ("https://notexample.com/", None),
        ("https://example.com.au/", None),
        ("https://example.org/example.com", None),
        ("https://casino.test/", "casino.test"),
        ("https://www.tracker.test/", "tracker.test"),
        ("https://xn--bcher-kva.test/", "xn--bcher-kva.test"),  # IDN entry matches its punycode form
        ("not a url", None),
        ("http://[::1/", None),
    ],
)
def test_blocklist_matches_domains_and_their_subdomains_only(lists, url, blocked):
    assert load_blocklist(str(lists / "blocked.txt")).blocked([url]) == [blocked]


def test_blocklist_files_load_in_bulk_as_line_by_line(tmp_path, monkeypatch):
    """Big lists are parsed in Arrow blocks; every odd line still means what it means alone."""
    odd = [
        "bom.test",
        "Upper.Example.ORG",
        "trailing.dot.test.",
        ".leading.test",
        "*.wild.test",
        "127.0.0.1\thosts.test",
        "spaced.test   # note",
        "http://www.url.test/path",
        "ünïcode.test",
        "#comment.test",
        "",
        "   ",
    ]
    plain = [f"site{i}.{tld}" for i in range(60_000) for tld in ("com", "net")]
    monkeypatch.setattr(blocklist_module, "_READ_BLOCK_BYTES", 64 << 10)  # so 1.3 MB of lines span many blocks
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("\r\n".join(odd + plain[:70_000]) + "\r\n", encoding="utf-8-sig")  # with a byte-order mark
    second.write_text("\n".join(plain[70_000:]), encoding="utf-8")  # no final newline
    blocklist = load_blocklist([str(first), str(second)])
    expected = {domain_of_entry(line.split("#", 1)[0]) for line in odd + plain} - {None}
    assert len(blocklist) == len(expected) == 120_009
    urls = [f"https://www.{domain}/x" for domain in sorted(expected)] + ["https://site60000.com/", "https://test/"]
    assert blocklist.blocked(urls) == sorted(expected) + [None, None]


@pytest.mark.parametrize(
    "url",
    [
        "https://Example.COM./a?b#c",
        "http://user:pw@host.test:8080/",
        "ftp://files.test",
        "http://a@b@c.test/",
        "http://example.com\\evil.test/",
        "//no-scheme.test/x",
        "http://[2001:db8::1]:80/",
        "http://bad port.test/",
        "http://host.test:abc/",
        "HTTP://WWW.TEST",
        "http://xn--bcher-kva.test/",
        "http://bücher.test/",
        " http://sp.test/ ",
        "mailto:someone@mail.test",
        "http://.test/",
        "http://",
        "",
        "http://_dmarc.test/",
    ],
)
def test_fast_url_host_agrees_with_urllib(url):
    expected = urlsplit(url.strip()).hostname
    assert url_host(url) == (canonical_host(expected) or None if expected else None)


def test_blocklist_that_is_not_text_is_a_config_error(tmp_path):
    binary = tmp_path / "list.bin"
    binary.write_bytes(b"ok.test\n\xff\xfe\x00bad\n")
    with pytest.raises(ConfigError, match="blocklist '.*list.bin' cannot be read"):
        load_blocklist(str(binary))


def run_toxicity(tmp_path, texts, urls=None, **stage):
    docs = write_docs(tmp_path / "docs" / "part-0.parquet", texts, urls)
    out = tmp_path / "out"
    pipeline = write_pipeline(tmp_path / "p.yaml", docs.parent, out, {"stage": "toxicity", **stage})
    run_curate("run", str(pipeline), "--no-progress")
    return read_stage(out, "toxicity"), read_rejected(out, "toxicity")


def reasons_by_id(rejected) -> dict[str, str]:
    return dict(zip(rejected["id"].to_pylist(), rejected["reason"].to_pylist())) if rejected is not None else {}


@pytest.mark.slow
def test_blocklist_drops_pages_with_reason(tmp_path, lists, davidson):
    urls = ["http://a.b.example.com/x", "https://notexample.com/", None, "https://casino.test/slots"]
    kept, rejected = run_toxicity(tmp_path, davidson["2"][:4], urls, blocklist=str(lists / "blocked.txt"))
    assert reasons_by_id(rejected) == {
        "doc-part-0-0": "toxicity.url_blocklist",
        "doc-part-0-3": "toxicity.url_blocklist",
    }
    assert rejected["detail"][0].as_py() == "http://a.b.example.com/x is under blocked domain example.com"
    assert kept["id"].to_pylist() == ["doc-part-0-1", "doc-part-0-2"]


@pytest.mark.slow
def test_url_words_drop_pages_as_fineweb_does(tmp_path, lists):
    (lists / "url_banned.txt").write_text("# hard\nporn\nxxx\n", encoding="utf-8")
    (lists / "url_soft.txt").write_text("babes\nass\nhot\n", encoding="utf-8")
    (lists / "url_subwords.txt").write_text("xxx videos\n", encoding="utf-8")
    urls = [
        "https://news.example.org/politics/2024/classic-cars",  # "ass" only inside "classic": kept
        "https://Example.com/PORN-clips",  # banned word, any case
        "https://example.com/hot-babes",  # two soft words
        "https://example.com/babes-of-the-sea",  # one soft word: kept
        "https://www.freexxxvideoshd.example/watch",  # subword inside a word
        None,
    ]  # no URL: kept
    kept, rejected = run_toxicity(
        tmp_path,
        ["text"] * 6,
        urls,
        url_banned_words=str(lists / "url_banned.txt"),
        url_soft_banned_words=str(lists / "url_soft.txt"),
        url_banned_subwords=str(lists / "url_subwords.txt"),
    )
    assert reasons_by_id(rejected) == {
        "doc-part-0-1": "toxicity.url_banned_word",
        "doc-part-0-2": "toxicity.url_soft_banned_words",
        "doc-part-0-4": "toxicity.url_banned_subword",
    }
    details = dict(zip(rejected["id"].to_pylist(), rejected["detail"].to_pylist()))
    assert details["doc-part-0-4"] == "the URL contains the banned subword 'xxxvideos'"
    assert sorted(kept["id"].to_pylist()) == ["doc-part-0-0", "doc-part-0-3", "doc-part-0-5"]


@pytest.mark.slow
def test_bad_word_ratio_drops_offensive_tweets(tmp_path, lists, davidson):
    texts = davidson["1"][:100] + davidson["2"][:100]
    kept, rejected = run_toxicity(tmp_path, texts, bad_words=str(lists / "bad_words.txt"), max_bad_word_ratio=0.05)
    dropped = reasons_by_id(rejected)
    assert set(dropped.values()) == {"toxicity.bad_words"}
    offensive_dropped = sum(f"doc-part-0-{i}" in dropped for i in range(100))
    neither_dropped = sum(f"doc-part-0-{i}" in dropped for i in range(100, 200))
    assert offensive_dropped > 40 and neither_dropped < 5
    assert rejected["detail"][0].as_py().startswith("bad-word ratio 0.")
    assert kept.num_rows + rejected.num_rows == 200


@pytest.mark.slow
def test_classifier_drops_toxic_comments_and_scores_every_document(tmp_path, model, shared_data):
    toxic, clean = jigsaw_texts(shared_data, 1, 40, seed=5), jigsaw_texts(shared_data, 0, 40, seed=5)
    kept, rejected = run_toxicity(tmp_path, toxic + clean, model=str(model), threshold=0.5)
    dropped = reasons_by_id(rejected)
    assert set(dropped.values()) == {"toxicity.classifier"}
    assert sum(f"doc-part-0-{i}" in dropped for i in range(40)) > 25  # most toxic comments go
    assert sum(f"doc-part-0-{i}" in dropped for i in range(40, 80)) < 15  # most clean ones stay
    assert min(rejected["toxicity_score"].to_pylist()) >= 0.5 > max(kept["toxicity_score"].to_pylist())
    assert rejected["detail"][0].as_py().startswith("toxicity score ")


@pytest.mark.slow
def test_first_check_that_fires_is_the_reason_and_odd_text_does_not_crash(tmp_path, lists, model, davidson):
    texts = [davidson["1"][0], "", "   \n ", "🙂🔥🙂", "a" * 5_000_000, davidson["2"][0]]
    urls = ["https://www.example.com/"] + [None] * 5
    kept, rejected = run_toxicity(
        tmp_path,
        texts,
        urls,
        blocklist=str(lists / "blocked.txt"),
        bad_words=str(lists / "bad_words.txt"),
        max_bad_word_ratio=0.0,
        model=str(model),
    )
    assert reasons_by_id(rejected)["doc-part-0-0"] == "toxicity.url_blocklist"  # not bad_words, though it has some
    assert kept.num_rows + rejected.num_rows == 6
    assert {"doc-part-0-1", "doc-part-0-2"} <= set(kept["id"].to_pylist())  # no words: nothing toxic, score 0
    scores = dict(zip(kept["id"].to_pylist(), kept["toxicity_score"].to_pylist()))
    assert scores["doc-part-0-1"] == scores["doc-part-0-2"] == 0.0


@pytest.mark.slow
@pytest.mark.parametrize(
    "stage, message",
    [
        (
            {},
            "give at least one of 'blocklist', 'url_banned_words', 'url_soft_banned_words', 'url_banned_subwords', 'bad_words' or 'model'",
        ),
        ({"url_banned_words": "{tmp}/empty.txt"}, "URL word list '{tmp}/empty.txt' lists no words"),
        (
            {"url_soft_banned_words": "{lists}/bad_words.txt", "url_soft_word_threshold": 0},
            "'url_soft_word_threshold' must be at least 1",
        ),
        ({"model": "{tmp}/nope.bin"}, "model '{tmp}/nope.bin' cannot be read"),
        ({"blocklist": "{tmp}/nope.txt"}, "blocklist '{tmp}/nope.txt' cannot be read"),
        ({"blocklist": "{tmp}/empty.txt"}, "blocklist '{tmp}/empty.txt' lists no domains"),
        ({"model": "{model}", "threshold": -0.5}, "'threshold' must be between 0 and 1"),
        (
            {"bad_words": "{lists}/bad_words.txt", "max_bad_word_ratio": 2},
            "'max_bad_word_ratio' must be between 0 and 1",
        ),
    ],
)
def test_bad_configuration_is_a_config_error(tmp_path, lists, model, stage, message):
    (tmp_path / "empty.txt").write_text("# nothing yet\n\n")
    docs = write_docs(tmp_path / "docs" / "part-0.parquet", ["text"])
    fill = {"tmp": tmp_path, "model": model, "lists": lists}
    stage = {k: v.format(**fill) if isinstance(v, str) else v for k, v in stage.items()}
    pipeline = write_pipeline(tmp_path / "p.yaml", docs.parent, tmp_path / "out", {"stage": "toxicity", **stage})
    with pytest.raises(ConfigError, match="stages\\[0\\] \\(toxicity\\)") as error:
        load_pipeline(str(pipeline))
    assert message.format(**fill) in str(error.value)
