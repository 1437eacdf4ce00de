"""The license stage: keep code whose license is on a list, as The Stack kept permissively licensed repositories.

    - stage: license
      licenses: [MIT, Apache-2.0, BSD-3-Clause, ...]   # SPDX ids kept (default: PERMISSIVE below)
      unknown: reject                                  # reject | keep: files with no license found

Reads the `license` column extract writes on code (curate/license/detect.py says how it is found:
license files, package metadata, a file's own SPDX header). An expression is allowed when it holds
with the listed licenses true: `MIT OR GPL-3.0-only` is kept (MIT may be chosen), `MIT AND GPL-3.0-only`
is not; `X WITH <exception>` counts as X (an exception only adds permissions). Dropped:
`license.not_allowed` (detail: the license and where it was found) and `license.unknown` (no license,
or license files askalono could not identify; as The Stack did, the default rejects them: a user
keeping them publishes files whose terms nobody checked). Documents that are not code pass untouched.

Counters: `documents.<license>` for every code document seen, kept or not, so stats/<stage>.json
holds the license distribution before the filter; the card of `curate export` lists the kept ones
with their repositories.

What the default is for: a corpus that can be published and trained on without copyleft or
unknown terms. Where it fails: the list is of licenses, not of uses: a permissive license with
an advertising clause (BSD-4-Clause) is left out, and a CC-BY text license is not in it although
it is permissive for prose; add what your use allows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.core.stage import DocumentStage, Verdict
from curate.license.detect import UNKNOWN, licensing, spdx_expression

# The permissive licenses of The Stack's filter (its license list, "permissive" category), as SPDX ids,
# with the Python licenses that askalono reports for the Python standard library.
PERMISSIVE = [
    "MIT",
    "MIT-0",
    "Apache-2.0",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "BSD-3-Clause-Clear",
    "0BSD",
    "ISC",
    "Unlicense",
    "CC0-1.0",
    "Zlib",
    "BSL-1.0",
    "Python-2.0",
    "Python-2.0.1",
    "PSF-2.0",
    "X11",
    "NCSA",
    "UPL-1.0",
    "PostgreSQL",
    "WTFPL",
    "AFL-3.0",
    "Artistic-2.0",
    "MS-PL",
    "ECL-2.0",
    "ZPL-2.1",
    "OpenSSL",
    "curl",
    "BlueOak-1.0.0",
]


@dataclass
class LicenseParams:
    licenses: list[str] = field(default_factory=lambda: list(PERMISSIVE))
    unknown: Literal["reject", "keep"] = "reject"

    def __post_init__(self):
        bad = [name for name in self.licenses if spdx_expression(name) is None or " " in spdx_expression(name)]
        if bad:
            raise ValueError(
                f"parameter 'licenses': not SPDX license ids: {', '.join(map(repr, bad))} "
                f"(e.g. MIT, Apache-2.0, BSD-3-Clause; https://spdx.org/licenses/)"
            )


def allowed(expression: str, keep: frozenset[str]) -> bool:
    """Whether an SPDX expression holds when the kept licenses are true and all others false."""
    from license_expression import AND, OR, ExpressionError, LicenseWithExceptionSymbol

    def holds(node) -> bool:
        if isinstance(node, OR):
            return any(holds(arg) for arg in node.args)
        if isinstance(node, AND):
            return all(holds(arg) for arg in node.args)
        if isinstance(node, LicenseWithExceptionSymbol):
            return node.license_symbol.key in keep
        return node.key in keep

    try:
        return holds(licensing().parse(expression, validate=True))
    except ExpressionError:  # a `license` value written by something else than extract: not a license to keep
        return False


class LicenseStage(DocumentStage):
    Params = LicenseParams

    def __init__(self, name: str, params: LicenseParams):
        super().__init__(name, params)
        self.keep = frozenset(spdx_expression(name) for name in params.licenses)
        self.verdicts: dict[str, bool] = {}  # expression -> allowed: a corpus has few distinct ones

    def process(self, table: pa.Table) -> Verdict:
        n = table.num_rows
        code = pc.fill_null(pc.equal(table["source"], "code"), False).to_numpy(zero_copy_only=False)
        licenses = table["license"].to_pylist() if "license" in table.column_names else [None] * n
        sources = table["license_source"].to_pylist() if "license_source" in table.column_names else [None] * n
        reasons, details, counters = [None] * n, [None] * n, {}
        for i in np.flatnonzero(code):
            license = licenses[i] or UNKNOWN
            counters[f"documents.{license}"] = counters.get(f"documents.{license}", 0) + 1
            where = f" (from {sources[i]})" if sources[i] else ""
            if license == UNKNOWN:
                if self.params.unknown == "reject":
                    reasons[i] = "license.unknown"
                    details[i] = (
                        f"license files not identified{where}"
                        if sources[i]
                        else "no license file, package license or SPDX header"
                    )
            elif not self.verdicts.setdefault(license, allowed(license, self.keep)):
                reasons[i], details[i] = "license.not_allowed", f"{license}{where}"
        return Verdict(table, reasons, details, counters=counters)
