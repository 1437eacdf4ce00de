"""A local HTTP server speaking the part of the Hugging Face Hub API that huggingface_hub's HfApi uploads
(create_repo, upload_folder) and HfFileSystem reads (repo info, tree listing, resolve with byte ranges) use,
so hf://datasets/... inputs and `curate export --push` run their real code paths without the network."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import re
import threading
import urllib.parse
from pathlib import Path

import yaml

SHA = "1" * 40


class HubHandler(http.server.BaseHTTPRequestHandler):
    root: Path  # the read-only dataset repo 'org/name'
    uploaded: dict[str, bytes]  # what upload commits sent, by path

    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def entries(self, folder: str, recursive: bool) -> list[dict]:
        out = []
        for path in sorted((self.root / folder).iterdir()):
            rel = str(path.relative_to(self.root))
            if path.is_dir():
                out.append({"type": "directory", "path": rel, "oid": "0" * 40})
                out += self.entries(rel, True) if recursive else []
            else:
                out.append(
                    {
                        "type": "file",
                        "path": rel,
                        "size": path.stat().st_size,
                        "oid": hashlib.sha1(path.read_bytes()).hexdigest(),
                    }
                )
        return out

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if re.fullmatch(r"/api/datasets/org/name(/revision/[^/]+)?", url.path):
            return self.reply({"id": "org/name", "sha": SHA, "siblings": []})
        tree = re.fullmatch(r"/api/datasets/org/name/tree/[^/]+/?(.*)", url.path)
        if tree:
            recursive = urllib.parse.parse_qs(url.query).get("recursive") == ["true"]
            return self.reply(self.entries(urllib.parse.unquote(tree.group(1)), recursive))
        resolve = re.fullmatch(r"/datasets/org/name/resolve/[^/]+/(.*)", url.path)
        if not resolve:
            return self.reply({"error": f"not served: {self.path}"}, 404)
        data = (self.root / urllib.parse.unquote(resolve.group(1))).read_bytes()
        wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        first, last = (
            (int(wanted.group(1)), min(int(wanted.group(2) or len(data) - 1), len(data) - 1))
            if wanted
            else (0, len(data) - 1)
        )
        self.send_response(206 if wanted else 200)
        if wanted:
            self.send_header("Content-Range", f"bytes {first}-{last}/{len(data)}")
        self.send_header("Content-Length", str(last - first + 1))
        self.send_header("ETag", '"0"')
        self.send_header("X-Repo-Commit", SHA)
        self.end_headers()
        self.wfile.write(data[first : last + 1])

    def do_POST(self):
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/api/repos/create":
            body = json.loads(raw)
            return self.reply({"url": f"{self.endpoint()}/datasets/{body['organization']}/{body['name']}"})
        if self.path == "/api/validate-yaml":  # the Hub checks a card's YAML header
            header = yaml.safe_load(json.loads(raw)["content"].split("---\n")[1])
            ok = isinstance(header, dict) and "license" in header
            return self.reply({"errors": [] if ok else [{"message": "no license"}]}, 200 if ok else 400)
        if self.path.endswith("/preupload/main"):
            files = json.loads(raw)["files"]
            return self.reply(
                {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]}
            )
        if self.path.endswith("/commit/main"):
            for op in map(json.loads, raw.splitlines()):
                if op["key"] == "file":
                    self.uploaded[op["value"]["path"]] = base64.b64decode(op["value"]["content"])
            repo = self.path.removeprefix("/api/").removesuffix("/commit/main")
            return self.reply({"commitUrl": f"{self.endpoint()}/{repo}/commit/{SHA}", "commitOid": SHA})
        self.reply({"error": f"not served: {self.path}"}, 404)

    def reply(self, obj, code: int = 200) -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Hub:
    """with Hub(root) as hub: hub.endpoint serves root as dataset org/name; hub.uploaded holds pushed files."""

    def __init__(self, root: Path):
        self.uploaded: dict[str, bytes] = {}
        handler = type("Handler", (HubHandler,), {"root": root, "uploaded": self.uploaded})
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "Hub":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
