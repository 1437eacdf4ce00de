"""Planted code for the license and secrets tests and bench/code_licenses_secrets.py.

plant_repositories(root): one repository per license situation, each its own input folder (or an
archive), with the license and license_source every file must get. Full license texts come from
Debian's base-files (/usr/share/common-licenses: Apache-2.0, GPL-3, BSD), MIT's is short enough to
write here. planted_secrets(): files with one secret of each kind, and near-misses that must survive.
"""

from __future__ import annotations

import base64
import io
import json
import random
import string
import tarfile
from pathlib import Path

COMMON_LICENSES = Path("/usr/share/common-licenses")
MIT = """MIT License

Copyright (c) {year} {holder}

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def common_license(name: str) -> str:
    path = COMMON_LICENSES / name
    if not path.exists():
        raise FileNotFoundError(f"{path}: full license texts come from Debian's base-files package")
    return path.read_text()


def write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)


def plant_repositories(root: Path) -> tuple[list[str], dict[tuple[str, str], tuple[str, str | None]]]:
    """Input paths (folders and one archive) and {(repository, relative_path): (license, license_source)}."""
    code = "def main():\n    return 1\n"
    repositories = {
        "mit": {"LICENSE": MIT.format(year=2021, holder="Ada"), "app.py": code, "lib/util.py": code},
        "dual": {
            "LICENSE-MIT": MIT.format(year=2019, holder="Rust devs"),
            "LICENSE-APACHE": common_license("Apache-2.0"),
            "Cargo.toml": '[package]\nname = "dual"\nlicense = "MIT OR Apache-2.0"\n',
            "src/lib.rs": "pub fn f() -> u8 { 1 }\n",
        },
        "npm_only": {
            "package.json": json.dumps({"name": "npm-only", "license": "ISC"}),
            "index.js": "module.exports = 1;\n",
        },
        "pyproject_only": {
            "pyproject.toml": '[project]\nname = "p"\nlicense = "BSD-3-Clause"\n',
            "p/__init__.py": code,
        },
        "gpl_in_mit": {
            "LICENSE.md": MIT.format(year=2020, holder="Bo"),
            "main.py": code,
            "vendored_gpl.py": "# SPDX-License-Identifier: GPL-3.0-or-later\n" + code,
        },
        "gpl": {"COPYING": common_license("GPL-3"), "x.c": "int main(void) { return 0; }\n"},
        "no_license": {"main.py": code, "README.md": "# no license here\n"},
        "custom": {
            "LICENSE": "Copyright Acme Corp. All rights reserved. You may not copy, modify or share this code.\n",
            "main.py": code,
        },
        "monorepo": {
            "LICENSE": MIT.format(year=2022, holder="Mono"),
            "packages/a/index.js": "export const a = 1;\n",
            "packages/b/package.json": json.dumps({"name": "b", "license": "Apache-2.0"}),
            "packages/b/index.js": "export const b = 2;\n",
        },
    }
    for name, files in repositories.items():
        write(root / name, files)
    expected = {
        ("mit", "app.py"): ("MIT", "LICENSE"),
        ("mit", "lib/util.py"): ("MIT", "LICENSE"),
        ("dual", "src/lib.rs"): ("MIT OR Apache-2.0", "LICENSE-APACHE,LICENSE-MIT,Cargo.toml"),
        ("dual", "Cargo.toml"): ("MIT OR Apache-2.0", "LICENSE-APACHE,LICENSE-MIT,Cargo.toml"),
        ("npm_only", "index.js"): ("ISC", "package.json"),
        ("npm_only", "package.json"): ("ISC", "package.json"),
        ("pyproject_only", "p/__init__.py"): ("BSD-3-Clause", "pyproject.toml"),
        ("pyproject_only", "pyproject.toml"): ("BSD-3-Clause", "pyproject.toml"),
        ("gpl_in_mit", "main.py"): ("MIT", "LICENSE.md"),
        ("gpl_in_mit", "LICENSE.md"): ("MIT", "LICENSE.md"),
        ("gpl_in_mit", "vendored_gpl.py"): ("GPL-3.0-or-later", "header"),
        ("gpl", "x.c"): ("GPL-3.0-only", "COPYING"),
        ("no_license", "main.py"): ("unknown", None),
        ("no_license", "README.md"): ("unknown", None),
        ("custom", "main.py"): ("unknown", "LICENSE"),
        ("monorepo", "packages/a/index.js"): ("MIT", "LICENSE"),
        ("monorepo", "packages/b/index.js"): ("Apache-2.0", "packages/b/package.json"),
        ("monorepo", "packages/b/package.json"): ("Apache-2.0", "packages/b/package.json"),
        ("apache", "apache-3f2a1b/src/main.go"): ("Apache-2.0", "apache-3f2a1b/LICENSE"),
    }
    archive = root / "apache.tar.gz"  # a GitHub-style archive: one top folder named after the commit
    with tarfile.open(archive, "w:gz") as tar:
        for relative, text in {
            "apache-3f2a1b/src/main.go": "package main\n\nfunc main() {}\n",
            "apache-3f2a1b/LICENSE": common_license("Apache-2.0"),
        }.items():
            data = text.encode()
            info = tarfile.TarInfo(relative)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return [str(root / name) for name in repositories] + [str(archive)], expected


def random_string(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def planted_secrets(rng: random.Random) -> list[tuple[str, str, str]]:
    """(kind, secret, Python line holding it): one freshly drawn secret of each kind."""
    alnum = string.ascii_letters + string.digits
    upper = string.ascii_uppercase + string.digits
    b64 = alnum + "+/"
    pem_body = "\n".join(random_string(rng, b64, 64) for _ in range(4))
    header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"  # {"alg":"HS256","typ":"JWT"}
    claims = json.dumps({"sub": random_string(rng, alnum, 12), "iat": rng.randrange(10**9, 2 * 10**9)}).encode()
    jwt = f"{header}.{base64.urlsafe_b64encode(claims).decode().rstrip('=')}.{random_string(rng, alnum + '_-', 43)}"
    aws_secret = random_string(rng, b64, 40)
    return [
        (
            "private_key",
            pem_body,
            f'KEY = """-----BEGIN RSA PRIVATE KEY-----\n{pem_body}\n-----END RSA PRIVATE KEY-----"""',
        ),
        ("aws_key", (key := "AKIA" + random_string(rng, upper, 16)), f'AWS_ACCESS_KEY_ID = "{key}"'),
        ("high_entropy", aws_secret, f'aws_secret_access_key = "{aws_secret}"'),
        ("gcp_key", (key := "AIza" + random_string(rng, alnum + "_-", 35)), f'client = Maps(key="{key}")'),
        (
            "azure_key",
            (key := random_string(rng, b64, 86) + "=="),
            f'CONN = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={key};EndpointSuffix=core.windows.net"',
        ),
        (
            "github_token",
            (key := "ghp_" + random_string(rng, alnum, 36)),
            f"headers = {{'Authorization': 'token {key}'}}",
        ),
        ("gitlab_token", (key := "glpat-" + random_string(rng, alnum + "_-", 20)), f'GITLAB = "{key}"'),
        (
            "slack_token",
            (
                key
                := f"xoxb-{rng.randrange(10**11, 10**12)}-{rng.randrange(10**11, 10**12)}-{random_string(rng, alnum, 24)}"
            ),
            f'slack = WebClient("{key}")',
        ),
        ("jwt", jwt, f'session = "{jwt}"'),
        (
            "basic_auth",
            (key := random_string(rng, alnum, 12)),
            f'DATABASE_URL = "postgres://admin:{key}@db.internal:5432/app"',
        ),
        ("password", (key := random_string(rng, alnum, 10) + "!"), f'db_password = "{key}"'),
        (
            "email",
            (
                key
                := f"{random_string(rng, string.ascii_lowercase, 7)}.dev@{random_string(rng, string.ascii_lowercase, 6)}.io"
            ),
            f"# maintainer: {key}",
        ),
        (
            "ip",
            (key := f"{rng.randrange(11, 99)}.{rng.randrange(1, 250)}.{rng.randrange(1, 250)}.{rng.randrange(1, 250)}"),
            f'SERVER = "{key}"',
        ),
    ]


# Lines that look like secrets and are not: each must come out unchanged.
NEAR_MISSES = [
    'integrity = "sha512-' + "Q7Zq3mL2hX9pV4" * 6 + '=="',  # a lock-file hash
    'request_id = "123e4567-e89b-12d3-a456-426614174000"',  # a UUID
    'token_id = "3f2a1b9c-7d4e-4f6a-9b8c-1d2e3f4a5b6c"',  # a UUID named like a token
    'FIXTURE = "SGVsbG8sIFdvcmxkISBUaGlzIGlzIGEgYmFzZTY0IHRlc3QgZml4dHVyZS4="',  # base64 test data, no key name
    "MASK = 0xDEADBEEFCAFEBABE",  # a hex constant
    'sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"',  # a digest, not a key
    'PUBLIC = """-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----"""',
    'password = "{password}"',  # templated
    'password = os.environ["DB_PASSWORD"]',  # a reference, not a value
    'db_password = "changeme"',  # a dummy value
    'url = "https://user@example.org/path"',  # a user without a password
    'dsn = "postgres://admin:${DB_PASS}@db:5432/app"',  # templated password
    'contact = "someone@example.com"',  # a reserved example domain
    'LOCAL = "192.168.1.20"',  # a private address
    'VERSION = "1.2.3.4"',  # a version, not a public address
    'token_type = "bearer"',  # a token name, no secret
    'AKIA_PREFIX = "AKIA"',  # too short for a key id
    'api_key = "YOUR_API_KEY_HERE"',  # a placeholder
    'secret_key = "abcdefghijklmnopqrstuvwxyz"',  # sequential
]
