"""A fake Hugging Face Hub at the HTTP level: repo info, the file tree and
file downloads for in-memory repos, enough for huggingface_hub's
`snapshot_download` (plain HTTP, no Xet) to fill a real hub cache."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from aiohttp import web

from support.servers import app_in_thread

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Hub:
    repos: dict[str, dict[str, bytes]] = field(default_factory=dict)  # repo id -> file name -> content
    downloads: list[str] = field(default_factory=list)  # "repo/file" per GET of a file


def _git_oid(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def app(hub: Hub) -> web.Application:
    routes = web.RouteTableDef()

    def repo(request: web.Request) -> dict[str, bytes]:
        found = hub.repos.get(f"{request.match_info['org']}/{request.match_info['name']}")
        if found is None:
            raise web.HTTPNotFound(headers={"X-Error-Code": "RepoNotFound"}, text="Repository not found")
        return found

    @routes.get("/api/models/{org}/{name}/revision/{revision}")
    async def info(request: web.Request) -> web.Response:
        files = repo(request)
        # The fields the real Hub always sends (GET https://huggingface.co/api/models/gpt2 has them);
        # huggingface_hub before 0.24 requires private, downloads, likes and tags.
        return web.json_response({"id": f"{request.match_info['org']}/{request.match_info['name']}", "sha": COMMIT,
                                  "private": False, "downloads": 0, "likes": 0, "tags": [],
                                  "siblings": [{"rfilename": name} for name in sorted(files)]})

    @routes.get("/api/models/{org}/{name}/tree/{revision}")
    async def tree(request: web.Request) -> web.Response:
        entries = []
        for name, content in sorted(repo(request).items()):
            entry = {"type": "file", "path": name, "size": len(content), "oid": _git_oid(content)}
            if name.endswith((".gguf", ".safetensors")):  # large files live in LFS
                entry["lfs"] = {"oid": hashlib.sha256(content).hexdigest(), "size": len(content), "pointerSize": 134}
            entries.append(entry)
        return web.json_response(entries)

    @routes.route("*", "/{org}/{name}/resolve/{revision}/{filename:.+}")
    async def resolve(request: web.Request) -> web.Response:
        content = repo(request).get(request.match_info["filename"])
        if content is None:
            raise web.HTTPNotFound(headers={"X-Error-Code": "EntryNotFound"}, text="Entry not found")
        headers = {"X-Repo-Commit": COMMIT, "ETag": f'"{hashlib.sha256(content).hexdigest()}"',
                   "Content-Length": str(len(content))}
        if request.method == "HEAD":
            return web.Response(headers=headers)
        hub.downloads.append(f"{request.match_info['org']}/{request.match_info['name']}/{request.match_info['filename']}")
        return web.Response(body=content, headers=headers)

    application = web.Application()
    application.add_routes(routes)
    return application


@contextlib.contextmanager
def fake_hub(hub: Hub) -> Iterator[str]:
    """Serve ``hub``; yields the endpoint to put in HF_ENDPOINT."""
    with app_in_thread(app(hub)) as url:
        yield url
