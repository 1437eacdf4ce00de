"""Licenses and secrets of code: detector speed, accuracy on the planted set, false positives on the standard library.

    python -m bench.code_licenses_secrets [--seeds 200] [--scancode-python PATH] [--detect-secrets-files 300]

1. License detectors, same texts, same run: pyaskalono (what curate uses) per call, and, when
   --scancode-python names the interpreter of a venv with scancode-toolkit, ScanCode's index load and
   per-text match time. Texts: MIT (written in tests/code_fixtures.py), Apache-2.0 and GPL-3 (Debian's
   /usr/share/common-licenses), the Python standard library's LICENSE.txt.
2. Licenses of the planted repositories (tests/code_fixtures.py): files whose license and source are right.
3. Secrets recall per kind: --seeds freshly drawn secrets of each kind, one per file (planted_secrets),
   a hit when the secret is gone and its placeholder is there; near-misses that survive.
4. False positives on the interpreter's Lib folder (every .py file outside site-packages; no real secrets
   expected): files with a key/token/password replacement per 1,000 files, listed; e-mail and IP
   replacements counted apart (author addresses in comments are real addresses). The stage's speed on it,
   and detect-secrets 1.5 (all plugins, default filters) on its first --detect-secrets-files files with the
   same files through the stage, as a ratio; detect-secrets' recall on the planted set alongside.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sysconfig
import tempfile
import time
from collections import Counter
from pathlib import Path


from tests.code_fixtures import MIT, NEAR_MISSES, common_license, plant_repositories, planted_secrets  # noqa: E402
from curate.core.schema import make_documents  # noqa: E402
from curate.secrets.stage import KINDS, PLACEHOLDERS, SecretsParams, SecretsStage, replace_secrets  # noqa: E402

STDLIB = Path(sysconfig.get_paths()["stdlib"])
SCANCODE = """
import sys, time, json
t = time.time()
from licensedcode.cache import get_index
index = get_index()
load = time.time() - t
texts = json.load(open(sys.argv[1]))
out = {"load": load}
for name, text in texts.items():
    t = time.time()
    matches = index.match(query_string=text)
    out[name] = [time.time() - t, sorted({m.rule.spdx_license_expression() if callable(m.rule.spdx_license_expression) else m.rule.spdx_license_expression for m in matches})]
print(json.dumps(out))
"""


def license_texts() -> dict[str, str]:
    return {
        "MIT": MIT.format(year=2024, holder="A"),
        "Apache-2.0": common_license("Apache-2.0"),
        "GPL-3": common_license("GPL-3"),
        "Python (stdlib LICENSE.txt)": (STDLIB / "LICENSE.txt").read_text(),
    }


def bench_license_detectors(scancode_python: str | None) -> None:
    import askalono
    from curate.license.detect import identify

    print(
        "## License detectors (seconds per text)\n\n| text | askalono | askalono id (score) | ScanCode | ScanCode ids |\n|---|---|---|---|---|"
    )
    texts = license_texts()
    scancode = {}
    if scancode_python:
        import json

        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(texts, f)
        script = subprocess.run([scancode_python, "-c", SCANCODE, f.name], capture_output=True, text=True, check=True)
        scancode = json.loads(script.stdout.strip().splitlines()[-1])
        os.unlink(f.name)
    for name, text in texts.items():
        t = time.perf_counter()
        match = askalono.identify(text)
        seconds = time.perf_counter() - t
        sc = scancode.get(name, ["-", "-"])
        print(
            f"| {name} | {seconds:.3f} | {match.name} ({match.score:.2f}) | {sc[0] if sc[0] == '-' else f'{sc[0]:.3f}'} | {', '.join(sc[1]) if sc[1] != '-' else '-'} |"
        )
    if scancode:
        print(f"\nScanCode index load: {scancode['load']:.1f} s per process")
    t = time.perf_counter()
    for year in range(100):  # MIT files differing only in their copyright line: one askalono call
        identify(MIT.format(year=1900 + year, holder=f"Holder {year}"))
    print(
        f"curate's identify() on 100 MIT files differing in their copyright line: {time.perf_counter() - t:.2f} s in all\n"
    )


def bench_planted_licenses() -> None:
    from curate.api import Pipeline, Stage
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory() as tmp:
        inputs, expected = plant_repositories(Path(tmp) / "repos")
        out = Path(tmp) / "out"
        Pipeline.of(inputs, str(out), [Stage("extract", source="code")]).run()
        rows = pq.ParquetDataset(sorted((out / "extract").glob("*.parquet"))).read().to_pylist()
    found = {(r["repository"], r["relative_path"]): (r["license"], r["license_source"]) for r in rows}
    right = [key for key in expected if found.get(key) == expected[key]]
    print(f"## Planted repositories\n\n{len(right)} of {len(expected)} files with the expected license and source")
    for key in expected:
        if key not in right:
            print(f"- wrong: {key}: {found.get(key)} expected {expected[key]}")
    print()


def scrub(stage: SecretsStage, texts: list[str]):
    verdict = stage.process(make_documents([{"id": str(i), "source": "code", "text": t} for i, t in enumerate(texts)]))
    return verdict.table["text"].to_pylist(), verdict.counters


def detect_secrets_lines(lines_by_file: list[list[str]]) -> list[Counter]:
    from detect_secrets.core import scan
    from detect_secrets.settings import default_settings

    found = []
    with default_settings():
        for lines in lines_by_file:
            found.append(
                Counter(s.type for s in scan._process_line_based_plugins(list(enumerate(lines, 1)), "file.py"))
            )
    return found


def bench_secrets(seeds: int, detect_secrets_files: int) -> None:
    stage = SecretsStage("secrets", SecretsParams())
    planted = [planted_secrets(random.Random(seed)) for seed in range(seeds)]
    files = [(kind, secret, f"import os\n\n{line}\nprint('ok')\n") for draw in planted for kind, secret, line in draw]
    texts, _ = scrub(stage, [text for _, _, text in files])
    hits = Counter(
        kind for (kind, secret, _), text in zip(files, texts) if secret not in text and PLACEHOLDERS[kind] in text
    )
    survived = sum(t == o for t, o in zip(scrub(stage, NEAR_MISSES)[0], NEAR_MISSES))
    ds = None
    try:
        ds = detect_secrets_lines([text.splitlines() for _, _, text in files])
    except ImportError:
        pass
    print(
        f"## Secrets recall ({seeds} planted files per kind)\n\n| kind | curate recall | detect-secrets flagged |\n|---|---|---|"
    )
    for kind in KINDS:
        flagged = "-" if ds is None else f"{sum(bool(c) for (k, _, _), c in zip(files, ds) if k == kind) / seeds:.2f}"
        print(f"| {kind} | {hits[kind] / seeds:.2f} | {flagged} |")
    print(f"\nnear-misses left unchanged: {survived} of {len(NEAR_MISSES)}\n")

    paths = [p for p in sorted(STDLIB.rglob("*.py")) if "site-packages" not in p.parts]
    texts, names = [], []
    for path in paths:
        try:
            texts.append(path.read_text(encoding="utf-8"))
            names.append(str(path.relative_to(STDLIB)))
        except (UnicodeDecodeError, OSError):
            continue  # the few files deliberately not UTF-8 (Lib/test) are decoded by extract, not here
    megabytes = sum(len(t.encode()) for t in texts) / 1e6
    t = time.perf_counter()
    out = []
    for start in range(0, len(texts), 512):
        out += scrub(stage, texts[start : start + 512])[0]
    seconds = time.perf_counter() - t
    keys = {kind for kind in KINDS if kind not in ("email", "ip")}
    flagged, counts = [], Counter()
    for name, before, after in zip(names, texts, out):
        if before == after:
            continue
        found = Counter()
        replace_secrets(before, KINDS, found)
        counts.update(found)
        if keys & set(found):
            flagged.append((name, {k: v for k, v in found.items() if k in keys}))
    print(f"## Standard library ({STDLIB}): {len(texts)} .py files, {megabytes:.1f} MB\n")
    print(
        f"secrets stage: {seconds:.1f} s, {megabytes / seconds:.2f} MB/s on one core (load average {os.getloadavg()[0]:.1f})"
    )
    print(
        f"files with a key/token/password replacement: {len(flagged)} = {1000 * len(flagged) / len(texts):.1f} per 1,000 files"
    )
    for name, found in flagged:
        print(f"- {name}: {found}")
    print(
        f"replacements by kind: {dict(counts)}; files with an e-mail replaced: "
        f"{sum(1 for b, a in zip(texts, out) if b != a and '<EMAIL>' in a)} ({1000 * sum(1 for b, a in zip(texts, out) if b != a and '<EMAIL>' in a) / len(texts):.0f} per 1,000)"
    )
    try:
        subset = texts[:detect_secrets_files]
        t = time.perf_counter()
        found = detect_secrets_lines([text.splitlines() for text in subset])
        ds_seconds = time.perf_counter() - t
        t = time.perf_counter()
        scrub(stage, subset)
        ours = time.perf_counter() - t
        mb = sum(len(x.encode()) for x in subset) / 1e6
        print(
            f"\nfirst {len(subset)} files ({mb:.1f} MB): detect-secrets {ds_seconds:.1f} s ({mb / ds_seconds:.3f} MB/s), "
            f"secrets stage {ours:.2f} s: {ds_seconds / ours:.0f}x faster; detect-secrets flagged "
            f"{sum(bool(c) for c in found)} files ({dict(sum(found, Counter()))})"
        )
    except ImportError:
        print("\n(detect-secrets not installed: no comparison)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument(
        "--scancode-python", help="the python of a venv with scancode-toolkit, to time it beside askalono"
    )
    parser.add_argument("--detect-secrets-files", type=int, default=300)
    args = parser.parse_args()
    print(
        f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n"
    )
    bench_license_detectors(args.scancode_python)
    bench_planted_licenses()
    bench_secrets(args.seeds, args.detect_secrets_files)


if __name__ == "__main__":
    main()
