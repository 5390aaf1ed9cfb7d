#!/usr/bin/env python3
"""Lists every skipped test in the Surefire/Failsafe reports under the given root, with its reason, and exits 1
when a skip has a reason other than the ones true on every machine this project's CI runs on (no Docker engine).
scripts/test.sh runs it after `mvnw verify`: a test skipped for a missing tool would otherwise hide a broken
install, since scripts/setup.sh installed every tool the tests use."""
import glob
import os
import re
import sys
import xml.etree.ElementTree as ET

# Reasons a skip may have in CI. Each must describe something these machines lack, not something setup.sh installs.
ALLOWED = [re.compile(r"Docker is not available")]

root = sys.argv[1] if len(sys.argv) > 1 else "."
skips = []
reports = glob.glob(os.path.join(root, "*", "target", "*-reports", "TEST-*.xml"))
for report in sorted(reports):
    for case in ET.parse(report).getroot().iter("testcase"):
        skipped = case.find("skipped")
        if skipped is not None:
            reason = (skipped.get("message") or "").strip()
            if not reason and skipped.text:  # an aborted assumption: the first line of its stack trace
                reason = skipped.text.strip().splitlines()[0].removeprefix("org.opentest4j.TestAbortedException: ")
            reason = reason or "(no reason given)"
            skips.append((case.get("classname", "?"), case.get("name", "?"), reason))

print(f"skips: {len(skips)} in {len(reports)} test reports")
bad = 0
for cls, name, reason in skips:
    ok = any(p.search(reason) for p in ALLOWED)
    bad += 0 if ok else 1
    print(f"  {'allowed' if ok else 'NOT ALLOWED'}: {cls.rsplit('.', 1)[-1]}.{name}: {reason}")
if bad:
    print(f"skips: {bad} test(s) skipped for a reason scripts/setup.sh should have removed; failing the run",
          file=sys.stderr)
    sys.exit(1)
