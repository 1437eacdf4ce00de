"""The licenses of an exported code stage, for its dataset card: files and repositories per license.

The Stack published the repositories it took, with their licenses, so that authors can find
their code and ask for it to be removed; `curate export` does the same: a table in the card and
the full lists in DIR/licenses.json ({license: {"files": n, "repositories": [...]}}).
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict

import pyarrow as pa

SHOWN_REPOSITORIES = 50  # per license in the card; licenses.json has them all


class LicenseTally:
    def __init__(self):
        self.files: Counter = Counter()
        self.repositories: dict[str, set[str]] = defaultdict(set)

    def add(self, batch: pa.Table) -> None:
        if "license" not in batch.column_names:
            return
        repositories = (
            batch["repository"].to_pylist() if "repository" in batch.column_names else [None] * batch.num_rows
        )
        for license, repository in zip(batch["license"].to_pylist(), repositories):
            if license is not None:
                self.files[license] += 1
                if repository is not None:
                    self.repositories[license].add(repository)

    def card_lines(self) -> list[str]:
        if not self.files:
            return []
        lines = [
            "## Licenses",
            "",
            "Each file's license is in the column `license` (an SPDX expression, or `unknown`), and "
            "where it was found in `license_source` (license files, package metadata, or the file's own SPDX header). "
            "Repositories per license are listed below and in `licenses.json`, so that authors can find their code.",
            "",
            "| license | files | repositories |",
            "|---|---|---|",
        ]
        lines += [
            f"| `{license}` | {n} | {len(self.repositories[license])} |" for license, n in self.files.most_common()
        ]
        lines += ["", "### Repositories per license", ""]
        for license, _ in self.files.most_common():
            names = sorted(self.repositories[license])
            more = (
                f", and {len(names) - SHOWN_REPOSITORIES} more (licenses.json)"
                if len(names) > SHOWN_REPOSITORIES
                else ""
            )
            lines.append(f"- `{license}`: " + ", ".join(names[:SHOWN_REPOSITORIES]) + more)
        return lines + [""]

    def write(self, out_dir: str) -> None:
        if self.files:
            with open(os.path.join(out_dir, "licenses.json"), "w", encoding="utf-8") as f:
                json.dump(
                    {
                        license: {"files": n, "repositories": sorted(self.repositories[license])}
                        for license, n in self.files.most_common()
                    },
                    f,
                    indent=1,
                )
