#!/usr/bin/env python3
"""Compares feedwatch's feed parsing with Python feedparser on the feed corpora.

For every file from which feedparser gets at least one entry, feedwatch should read the same
number of entries and the same first title. Prints a Markdown table of the files that differ
and a summary line. Installs feedparser into bench/.venv when missing.

    python3 bench/compare_feedparser.py [CORPORA_DIR]   (default ../shared/corpora)
"""
import html
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV = os.path.join(HERE, ".venv")


def venv_python():
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    if subprocess.run([py, "-c", "import feedparser"], capture_output=True).returncode != 0:
        subprocess.run([py, "-m", "pip", "install", "-q", "feedparser"], check=True)
    return py


FEEDPARSER = r"""
import json, sys, time, feedparser
start = time.process_time()
out = {}
for path in sys.argv[2:]:
    d = feedparser.parse(open(path, 'rb').read())
    first = d.entries[0].get('title') if d.entries else None
    out[path[len(sys.argv[1]) + 1:]] = {"entries": len(d.entries), "first_title": first}
print(json.dumps({"files": out, "cpu_s": time.process_time() - start}))
"""


def norm(title):
    """Titles compared as text: feedparser keeps inline markup (`<i>`) and some entities that
    feedwatch turns into plain text."""
    text = html.unescape(re.sub(r"<[^>]+>", "", html.unescape(title or "")))
    return " ".join(text.split())


def main():
    corpora = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "corpora"))
    files = []
    for sub in ["feeds/feedjira-sample-feeds", "feeds/node-feedparser-feeds"]:
        d = os.path.join(corpora, sub)
        files += sorted(os.path.join(d, f) for f in os.listdir(d) if os.path.isfile(os.path.join(d, f)))
    py = venv_python()
    fp = json.loads(subprocess.run([py, "-c", FEEDPARSER, corpora] + files, capture_output=True, check=True, text=True).stdout)
    bench = os.path.join(ROOT, "target", "release", "feedwatch-bench")
    if not os.path.exists(bench):
        subprocess.run(["cargo", "build", "--release", "--bin", "feedwatch-bench"], cwd=ROOT, check=True)
    ours = {}
    for line in subprocess.run([bench, "parse", corpora, "--list"], capture_output=True, check=True, text=True).stdout.splitlines():
        row = json.loads(line)
        ours[row["file"]] = row
    considered = same = 0
    rows = []
    for name, theirs in sorted(fp["files"].items()):
        if theirs["entries"] == 0:
            continue
        considered += 1
        mine = ours.get(name, {"entries": 0, "first_title": None})
        if mine["entries"] == theirs["entries"] and norm(mine["first_title"]) == norm(theirs["first_title"]):
            same += 1
        else:
            rows.append(f"| {name} | {theirs['entries']} | {mine['entries']} | {norm(theirs['first_title'])[:40]!r} | {norm(mine['first_title'])[:40]!r} |")
    print("| file | feedparser entries | feedwatch entries | feedparser first title | feedwatch first title |")
    print("|---|---:|---:|---|---|")
    print("\n".join(rows))
    print(f"\n{same} of {considered} files that feedparser reads agree (entries and first title); feedparser used {fp['cpu_s']:.2f} s CPU for {len(files)} files")


if __name__ == "__main__":
    main()
