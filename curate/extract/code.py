"""Source code: directory trees and .tar.gz / .tgz / .zip archives of repositories.

Every file becomes a document or a recorded rejection. The programming language
comes from the file name (extension table below, special names like Makefile,
a shebang for extensionless scripts). Archive members are read from the archive
stream without extracting to disk; each archive is a shard of its own.

repository: the input folder's name (a directory tree is one repository) or the
archive's name; relative_path: the file's path inside it. Rejected, in this order:
vendored / generated / version-control folders (by path inside the repository), lock
files, minified names, non-code extensions, files over max_file_bytes, binary
data, text no charset decodes, lines over max_line_chars, empty files. Before all
these: links leading outside the input folder (outside_input), links to folders and
folders that could not be listed. An archive stops at max_archive_bytes uncompressed
bytes or max_archive_members members: the rest is one archive_budget rejection.

Every document carries `license` and `license_source` (curate/license/detect.py): a folder
tree's license files and package metadata are read once per worker process, an archive's in a
first pass over its members (a .tar.gz is decompressed twice).
"""

from __future__ import annotations

import functools
import os
import posixpath
import tarfile
import zipfile
import zlib
from typing import Iterator

import fsspec

from curate.core import budget, storage
from curate.core.schema import doc_id
from curate.license import detect as licenses
from curate.extract.decode import decode_bytes, looks_binary, python_coding_cookie
from curate.extract.stage import Rejection, reject_file

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip")
DAMAGED_ARCHIVE = (tarfile.TarError, zipfile.BadZipFile, zlib.error, OSError, EOFError)

LANGUAGES = {
    "Python": ".py .pyi .pyw .pyx .pxd",
    "C": ".c .h",
    "C++": ".cc .cpp .cxx .c++ .hh .hpp .hxx .h++ .ipp",
    "C#": ".cs",
    "Java": ".java",
    "JavaScript": ".js .mjs .cjs .jsx",
    "TypeScript": ".ts .tsx .mts .cts",
    "Go": ".go",
    "Rust": ".rs",
    "Ruby": ".rb .rake .gemspec",
    "PHP": ".php",
    "Swift": ".swift",
    "Kotlin": ".kt .kts",
    "Scala": ".scala .sc",
    "Objective-C": ".m .mm",
    "Shell": ".sh .bash .zsh .ksh .fish",
    "PowerShell": ".ps1 .psm1",
    "Batchfile": ".bat .cmd",
    "Perl": ".pl .pm",
    "Lua": ".lua",
    "R": ".r",
    "Julia": ".jl",
    "Haskell": ".hs .lhs",
    "OCaml": ".ml .mli",
    "F#": ".fs .fsi .fsx",
    "Elixir": ".ex .exs",
    "Erlang": ".erl .hrl",
    "Clojure": ".clj .cljs .cljc .edn",
    "Dart": ".dart",
    "Zig": ".zig",
    "Nim": ".nim",
    "Fortran": ".f .f90 .f95 .f03 .for",
    "Assembly": ".s .asm",
    "SQL": ".sql",
    "Groovy": ".groovy .gradle",
    "Visual Basic": ".vb .bas",
    "Vim Script": ".vim",
    "Emacs Lisp": ".el",
    "Scheme": ".scm .ss .rkt",
    "Common Lisp": ".lisp .lsp",
    "HTML": ".html .htm",
    "CSS": ".css .scss .sass .less",
    "Vue": ".vue",
    "Svelte": ".svelte",
    "Protocol Buffers": ".proto",
    "GraphQL": ".graphql .gql",
    "CMake": ".cmake",
    "Makefile": ".mk .mak",
    "Dockerfile": ".dockerfile",
    "TeX": ".tex .sty",
    "Markdown": ".md .markdown",
    "reStructuredText": ".rst",
    "YAML": ".yaml .yml",
    "TOML": ".toml",
    "JSON": ".json",
    "XML": ".xml .xsd .xsl",
    "INI": ".ini .cfg",
    "Jupyter Notebook": ".ipynb",
    "Solidity": ".sol",
    "Verilog": ".v .sv",
    "VHDL": ".vhd .vhdl",
}
EXTENSIONS = {ext: language for language, exts in LANGUAGES.items() for ext in exts.split()}
SPECIAL_NAMES = {
    "makefile": "Makefile",
    "gnumakefile": "Makefile",
    "dockerfile": "Dockerfile",
    "containerfile": "Dockerfile",
    "cmakelists.txt": "CMake",
    "rakefile": "Ruby",
    "gemfile": "Ruby",
    "jenkinsfile": "Groovy",
    "vagrantfile": "Ruby",
    "build": "Starlark",
    "build.bazel": "Starlark",
    "workspace": "Starlark",
    "meson.build": "Meson",
    "setup.cfg": "INI",
    "pipfile": "TOML",
    "procfile": "YAML",
}
SHEBANGS = {
    "python": "Python",
    "bash": "Shell",
    "sh": "Shell",
    "zsh": "Shell",
    "perl": "Perl",
    "ruby": "Ruby",
    "node": "JavaScript",
    "lua": "Lua",
    "php": "PHP",
    "Rscript": "R",
}
VENDORED_DIRS = {
    "node_modules",
    "bower_components",
    "jspm_packages",
    "vendor",
    "vendors",
    "third_party",
    "thirdparty",
    "third-party",
    "site-packages",
    "dist-packages",
    ".venv",
    "venv",
    "Pods",
    "Carthage",
    ".bundle",
}
GENERATED_DIRS = {
    "build",
    "dist",
    "target",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".tox",
    ".nox",
    ".eggs",
    ".gradle",
    ".next",
    ".nuxt",
    "htmlcov",
    ".cache",
    "_build",
    "cmake-build-debug",
    "cmake-build-release",
    "bazel-out",
    "bazel-bin",
}
VCS_DIRS = {".git", ".hg", ".svn", ".bzr", "CVS"}
LOCK_FILES = {
    "package-lock.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "npm-shrinkwrap.json",
    "bun.lockb",
    "Cargo.lock",
    "poetry.lock",
    "Pipfile.lock",
    "pdm.lock",
    "uv.lock",
    "composer.lock",
    "Gemfile.lock",
    "go.sum",
    "mix.lock",
    "pubspec.lock",
    "Podfile.lock",
    "packages.lock.json",
    "flake.lock",
    "gradle.lockfile",
}
MINIFIED_SUFFIXES = (".min.js", ".min.css", ".min.mjs", "-min.js", ".bundle.js")
EVIDENCE_BYTES = 256 * 1024  # license texts and package files are small; a larger one is read this far


def list_inputs(urls: list[str], params) -> list[str]:
    return [f for url in urls for f in storage.list_files(url)]


def read(url: str, params, root: str | None = None) -> Iterator[dict | Rejection]:
    root = (root or url).rstrip("/")
    if url.endswith(ARCHIVE_SUFFIXES) and storage.input_problem(url, root) is None:
        yield from read_archive(url, params)
        return
    relative = posixpath.basename(url) if url == root else url[len(root) + 1 :]
    repository = posixpath.basename(posixpath.dirname(url) if url == root else root)
    base = {
        "id": doc_id("code", url),
        "source": "code",
        "path": url,
        "text": "",
        "repository": repository,
        "relative_path": relative,
    }
    early = storage.input_problem(url, root) or check_path(relative, params)
    if early is not None:
        yield Rejection({**base, "programming_language": EXTENSIONS.get(extension(relative))}, *early)
        return
    try:
        fs, path = storage.filesystem(url)
        size = fs.size(path)
        if size is not None and size > params.max_file_bytes:
            yield Rejection(base, "too_large", f"{size} bytes > max_file_bytes {params.max_file_bytes}")
            return
        with fsspec.open(url, "rb") as f:
            data = f.read(params.max_file_bytes + 1)
    except (OSError, EOFError) as error:
        yield Rejection(base, "unreadable_file", f"{storage.printable(url)}: {type(error).__name__}: {error}")
        return
    yield code_document(base, data, params, {} if url == root else tree_evidence(root, params.parent_licenses))


@functools.lru_cache(maxsize=16)
def tree_evidence(root: str, parents: bool = False) -> dict[str, tuple[str, str]]:
    """License evidence of a folder tree, by folder: read once per worker process. With `parents`, a
    tree without evidence at its root takes the nearest evidence above it (parent_evidence)."""
    found = {}
    for url in storage.list_files(root):
        relative = url[len(root) + 1 :]
        if (
            licenses.is_evidence(relative)
            and folder_problem(relative) is None
            and storage.input_problem(url, root) is None
        ):
            try:
                with fsspec.open(url, "rb") as f:
                    found[relative] = f.read(EVIDENCE_BYTES).decode("utf-8", "replace")
            except (OSError, EOFError):
                continue  # an unreadable license file is no evidence; the file itself is rejected as unreadable
    evidence = licenses.folder_evidence(found)
    if parents and "" not in evidence and (above := parent_evidence(root)) is not None:
        evidence[""] = above
    return evidence


def parent_evidence(root: str, levels: int = 8) -> tuple[str, str] | None:
    """(license, source) from the nearest local folder above `root` holding license files or package
    metadata, searching up to the first folder that holds a version-control folder (the repository's
    root) or `levels` folders up: for an input that is a part of a repository (a package of a monorepo,
    json/ of the standard library). The source is a path relative to `root` (../LICENSE.txt)."""
    folder = os.path.abspath(root)
    for up in range(1, levels + 1):
        parent = os.path.dirname(folder)
        if parent == folder or not os.path.isdir(parent):
            return None
        folder, found = parent, {}
        try:
            names = sorted(os.listdir(folder))
        except OSError:  # a folder above the input that may not be listed ends the search
            return None
        for name in names:
            path = os.path.join(folder, name)
            if licenses.is_evidence(name) and os.path.isfile(path):
                try:
                    with open(path, "rb") as f:
                        found[name] = f.read(EVIDENCE_BYTES).decode("utf-8", "replace")
                except OSError:
                    continue
        if found:
            license, source = licenses.folder_evidence(found)[""]
            return license, ",".join(f"{'../' * up}{name}" for name in source.split(","))
        if VCS_DIRS.intersection(names):
            return None
    return None


def extension(relative: str) -> str:
    name = posixpath.basename(relative)
    return posixpath.splitext(name)[1].lower() if "." in name.lstrip(".") else ""


def check_path(relative: str, params) -> tuple[str, str] | None:
    """(reason, detail) for files rejected by their path alone, before reading them."""
    name = posixpath.basename(relative)
    if (problem := folder_problem(relative)) is not None:
        return problem
    if name in LOCK_FILES:
        return "lock_file", name
    if name.lower().endswith(MINIFIED_SUFFIXES):
        return "minified", f"minified file name {name}"
    if name.lower() in SPECIAL_NAMES or extension(name) in EXTENSIONS or extension(name) == "":
        return None  # extensionless files may still be scripts: decided by their shebang
    return "not_code", f"extension {extension(name)!r} is not a programming language this reader knows"


def folder_problem(relative: str) -> tuple[str, str] | None:
    for folder in relative.split("/")[:-1]:
        if folder in VENDORED_DIRS:
            return "vendored", f"inside {folder}/"
        if folder in VCS_DIRS:
            return "vcs_metadata", f"inside {folder}/"
        if folder in GENERATED_DIRS or folder.endswith(".egg-info"):
            return "generated", f"inside {folder}/"
    return None


def code_document(base: dict, data: bytes, params, evidence: dict[str, tuple[str, str]]) -> dict | Rejection:
    """A document from a file's bytes, or why not."""
    relative = base["relative_path"]
    if len(data) > params.max_file_bytes:
        return Rejection(base, "too_large", f"over max_file_bytes {params.max_file_bytes}")
    if not data.strip():
        return Rejection(base, "empty_file", "no content")
    if looks_binary(data):
        return Rejection(base, "binary_file", "NUL bytes in the first 8 KiB")
    language = language_of(relative, data)
    if language is None:
        return Rejection(base, "not_code", "no extension and no recognised #! line")
    cookie = python_coding_cookie(data) if language == "Python" else None
    text, charset = decode_bytes(data, cookie, replace=False)
    row = {**base, "programming_language": language, "charset": charset}
    if text is None:
        return Rejection(row, "undecodable", charset)
    longest = max(map(len, text.splitlines()), default=0)
    if longest > params.max_line_chars:
        return Rejection(row, "minified", f"a line of {longest} characters > max_line_chars {params.max_line_chars}")
    license, source = licenses.license_of(relative, text, evidence)
    return {**row, "text": text, "content_type": "text/plain", "license": license, "license_source": source}


def language_of(relative: str, data: bytes) -> str | None:
    name = posixpath.basename(relative)
    language = SPECIAL_NAMES.get(name.lower()) or EXTENSIONS.get(extension(name))
    if language is None and data.startswith(b"#!"):
        interpreter = data[2:200].split(b"\n", 1)[0].decode("latin-1").split()
        words = [posixpath.basename(w) for w in interpreter if w != "env" and not w.startswith("-")][:2]
        for word in words:
            word = word.rstrip("0123456789.")
            if word in SHEBANGS:
                return SHEBANGS[word]
    return language


# --- archives -----------------------------------------------------------------------------


def read_archive(url: str, params) -> Iterator[dict | Rejection]:
    """Every regular file of a repository archive, streamed from the archive."""
    name = posixpath.basename(url)
    repository = name[: -len(next(s for s in ARCHIVE_SUFFIXES if name.endswith(s)))]
    member = None
    spent = budget.ArchiveBudget(params.max_archive_bytes, params.max_archive_members)
    evidence = archive_evidence(url, params)
    try:
        with fsspec.open(url, "rb") as f:
            members = zip_members(f) if url.endswith(".zip") else tar_members(f)
            for member, size, end_offset, read_member in members:
                overrun = spent.charge(end_offset)
                if overrun is not None:  # checked before the member is read or skipped: a bomb costs nothing more
                    yield reject_file(
                        "code",
                        url,
                        "archive_budget",
                        f"{storage.printable(url)} at member {storage.printable(member)!r}: {overrun}",
                        repository=repository,
                    )
                    return
                base = {
                    "id": doc_id("code", f"{url}!{member}"),
                    "source": "code",
                    "path": url,
                    "text": "",
                    "repository": repository,
                    "relative_path": member,
                }
                early = check_path(member, params)
                if early is None and size > params.max_file_bytes:
                    early = ("too_large", f"{size} bytes > max_file_bytes {params.max_file_bytes}")
                yield Rejection(base, *early) if early else read_code_member(base, read_member, params, evidence)
    except FileNotFoundError as error:
        yield reject_file("code", url, "unreadable_file", f"{storage.printable(url)}: {error}", repository=repository)
    except (*DAMAGED_ARCHIVE, ValueError) as error:
        after = f" after member {member!r}" if member else ""
        yield reject_file(
            "code",
            url,
            "unreadable_archive",
            f"{storage.printable(url)}{after}: {type(error).__name__}: {error}",
            repository=repository,
        )


def archive_evidence(url: str, params) -> dict[str, tuple[str, str]]:
    """License evidence of an archive, by folder: its license and package files, read in a pass of their
    own (within the same budget). A damaged archive gives what was read before the damage; the
    pass that reads the documents records the damage."""
    found, spent = {}, budget.ArchiveBudget(params.max_archive_bytes, params.max_archive_members)
    try:
        with fsspec.open(url, "rb") as f:
            for member, size, end_offset, read_member in zip_members(f) if url.endswith(".zip") else tar_members(f):
                if spent.charge(end_offset) is not None:
                    break
                if licenses.is_evidence(member) and folder_problem(member) is None:
                    found[member] = read_member(EVIDENCE_BYTES).decode("utf-8", "replace")
    except (*DAMAGED_ARCHIVE, ValueError):
        pass
    return licenses.folder_evidence(found)


def read_code_member(base: dict, read_member, params, evidence: dict[str, tuple[str, str]]) -> dict | Rejection:
    """A member's document; a damaged member (bad CRC, broken deflate data) is its own rejection. In a
    zip the next member is still read; in a tar stream the error recurs and ends the archive."""
    try:
        data = read_member(params.max_file_bytes + 1)
    except DAMAGED_ARCHIVE as error:
        return Rejection(base, "unreadable_member", f"{type(error).__name__}: {error}")
    return code_document(base, data, params, evidence)


def tar_members(f):
    # "r|*": a forward-only stream, so members are never extracted or seeked.
    # Yields (name, size, where its data ends in the uncompressed stream, read(limit)).
    with tarfile.open(fileobj=f, mode="r|*") as tar:
        for info in tar:
            if info.isfile():
                yield (
                    info.name,
                    info.size,
                    info.offset_data + info.size,
                    lambda n, info=info: tar.extractfile(info).read(n),
                )


def zip_members(f):
    # A zip's sizes come from its central directory; reads stop at the limit whatever the entry claims.
    with zipfile.ZipFile(f) as archive:
        end = 0
        for info in archive.infolist():
            if not info.is_dir():
                end += info.file_size
                yield info.filename, info.file_size, end, lambda n, info=info: archive.open(info).read(n)
