#!/usr/bin/env python3
"""trafilatura over every page of a folder, on one core, one text file per page (plain text,
tables kept, comments left out as feedwatch leaves them out: its defaults but
include_comments=False): prints {"cpu_s", "bytes", "pages"}.
Run by `feedwatch-bench extract|all` beside feedwatch's extractor, on the same pages.

    py_extract.py HTML_DIR OUT_DIR
"""
import json
import os
import sys
import time

import trafilatura

html_dir, out_dir = sys.argv[1], sys.argv[2]
os.makedirs(out_dir, exist_ok=True)
pages = sorted(f for f in os.listdir(html_dir) if f.endswith(".html"))
bodies = [(os.path.splitext(f)[0], open(os.path.join(html_dir, f), "rb").read()) for f in pages]
texts = {}
start = time.process_time()
for page_id, body in bodies:
    texts[page_id] = trafilatura.extract(body, include_comments=False) or ""
cpu = time.process_time() - start
for page_id, text in texts.items():
    with open(os.path.join(out_dir, page_id + ".txt"), "w", encoding="utf-8") as f:
        f.write(text)
print(json.dumps({"cpu_s": cpu, "bytes": sum(len(b) for _, b in bodies), "pages": len(bodies)}))
