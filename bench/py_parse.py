#!/usr/bin/env python3
"""Python feedparser over the given feed files, on one core: prints {"cpu_s", "bytes", "feeds"}.
Run by `feedwatch-bench parse|all` beside feedwatch's own parser, on the same files."""
import json
import sys
import time

import feedparser

bodies = [open(p, "rb").read() for p in sys.argv[1:]]
start = time.process_time()
for body in bodies:
    feedparser.parse(body)
cpu = time.process_time() - start
print(json.dumps({"cpu_s": cpu, "bytes": sum(map(len, bodies)), "feeds": len(bodies)}))
