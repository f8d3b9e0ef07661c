#!/usr/bin/env python3
"""One poll cycle the way a careful Python tool does it: requests + feedparser, sequential,
conditional GET (ETag / Last-Modified sent back as given), seen entries remembered between
runs, each new entry matched against the benchmark's watch.

    poll_feedparser.py STATE.json URLS.txt

Run by `feedwatch-bench cycle|all` (which measures its CPU and memory); prints a summary.
"""
import json
import os
import sys

import feedparser
import requests

WATCH = ("venezuela", "caracas")


def main():
    state_path, urls_path = sys.argv[1], sys.argv[2]
    state = {"feeds": {}, "seen": []}
    if os.path.exists(state_path):
        with open(state_path) as f:
            state = json.load(f)
    seen = set(state["seen"])
    urls = [u.strip() for u in open(urls_path) if u.strip()]
    session = requests.Session()
    fetched = not_modified = new = matched = 0
    for url in urls:
        validators = state["feeds"].get(url, {})
        headers = {}
        if validators.get("etag"):
            headers["If-None-Match"] = validators["etag"]
        if validators.get("modified"):
            headers["If-Modified-Since"] = validators["modified"]
        resp = session.get(url, headers=headers, timeout=30)
        if resp.status_code == 304:
            not_modified += 1
            continue
        resp.raise_for_status()
        fetched += 1
        state["feeds"][url] = {
            "etag": resp.headers.get("ETag"),
            "modified": resp.headers.get("Last-Modified"),
        }
        d = feedparser.parse(resp.content, response_headers=dict(resp.headers))
        for e in d.entries:
            key = e.get("id") or e.get("link") or e.get("title")
            if key in seen:
                continue
            seen.add(key)
            new += 1
            text = (e.get("title", "") + " " + e.get("summary", "")).lower()
            if any(w in text for w in WATCH):
                matched += 1
    state["seen"] = sorted(seen)
    with open(state_path, "w") as f:
        json.dump(state, f)
    print(json.dumps({"fetched": fetched, "not_modified": not_modified, "new": new, "matched": matched}))


if __name__ == "__main__":
    main()
