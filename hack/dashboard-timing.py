#!/usr/bin/env python3
"""How soon a dashboard page is usable in Debian's headless Chromium: navigation timing of five loads
(after one to warm the browser) of URL. Use with `flotilla-bench ui --hold 300`, which prints the URL:

    .build/release/flotilla-bench ui --instances 1000 --hold 300 &
    .venv/bin/python hack/dashboard-timing.py http://127.0.0.1:PORT/
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "Tests" / "conformance"))
from browser import Browser  # noqa: E402

url = sys.argv[1]
browser = Browser(Path(f"/tmp/dashboard-timing-{time.time():.0f}"))
browser.open(url)
runs = []
for i in range(5):
    separator = "&" if "?" in url else "?"
    browser.send("Page.navigate", {"url": f"{url}{separator}r={i}"})
    browser.wait("the load", f"document.readyState === 'complete' && location.search.endsWith('r={i}')")
    runs.append(browser.evaluate("(() => { const n = performance.getEntriesByType('navigation')[0];"
                                 " return [n.responseEnd, n.domContentLoadedEventEnd, n.loadEventEnd]; })()"))
browser.close()
for name, index in (("response received", 0), ("DOMContentLoaded (usable)", 1), ("load", 2)):
    values = sorted(run[index] for run in runs)
    print(f"{name}: median {values[2]:.0f} ms (min {values[0]:.0f}, max {values[4]:.0f})")
