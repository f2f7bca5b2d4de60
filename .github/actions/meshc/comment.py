"""Post the review of a pull request as one comment, and update that comment on later pushes.

    GITHUB_TOKEN=... GITHUB_REPOSITORY=owner/repo PR_NUMBER=12 python comment.py BODY.md

The comment is found again by the marker on the body's first line
(``<!-- meshc-diff: SPEC -->``), so each spec keeps one comment however often
the pull request is pushed. A body whose review found no change is posted
only when a comment exists already (it then says the change is gone).
Standard library only: it runs on meshc's own interpreter in the action.
``GITHUB_API_URL`` is the API's root (set by GitHub Actions).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from typing import Any

PER_PAGE = 100


def call(method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(url, method=method, data=None if body is None else
                                     json.dumps(body).encode())  # fmt: skip
    request.add_header("Authorization", f"Bearer {os.environ['GITHUB_TOKEN']}")
    request.add_header("Accept", "application/vnd.github+json")
    request.add_header("X-GitHub-Api-Version", "2022-11-28")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def existing(api: str, repo: str, number: str, marker: str) -> int | None:
    page = 1
    while True:
        comments = call("GET", f"{api}/repos/{repo}/issues/{number}/comments"
                               f"?per_page={PER_PAGE}&page={page}")  # fmt: skip
        for comment in comments:
            if str(comment.get("body", "")).startswith(marker):
                return int(comment["id"])
        if len(comments) < PER_PAGE:
            return None
        page += 1


def main(path: str) -> int:
    with open(path, encoding="utf-8") as handle:
        body = handle.read()
    marker = body.splitlines()[0] if body else ""
    if not marker.startswith("<!-- meshc-diff:"):
        print(
            f"{path}: not a meshc diff in markdown (no marker on its first line)", file=sys.stderr
        )
        return 2
    api = os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    repo, number = os.environ["GITHUB_REPOSITORY"], os.environ["PR_NUMBER"]
    found = existing(api, repo, number, marker)
    unchanged = "\n0 added, 0 changed, 0 removed; 0 warnings\n" in body
    if found is not None:
        call("PATCH", f"{api}/repos/{repo}/issues/comments/{found}", {"body": body})
        print(f"updated comment {found}")
    elif not unchanged:
        created = call("POST", f"{api}/repos/{repo}/issues/{number}/comments", {"body": body})
        print(f"posted comment {created['id']}")
    else:
        print("no change to review; no comment posted")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
