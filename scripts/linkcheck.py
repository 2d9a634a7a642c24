"""Check the external links of the book (``make linkcheck``): a report, never a failure.

Internal links and references are checked by every build (``-W -n``); this asks each
external URL once, which needs internet. The notebooks are not executed for it (their
text holds the links), so it takes seconds plus the network time. The result is printed
and kept in ``_build/linkcheck/output.json``. It always exits with status 0: a site
that is down for an hour should not fail a build.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "_build" / "linkcheck"


def main() -> int:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config.setdefault("execute", {})["execute_notebooks"] = "off"
    sphinx = config.setdefault("sphinx", {})
    # the copy lives in _build/linkcheck/: local extension paths must not move with it
    sphinx["local_extensions"] = {
        name: str((ROOT / path).resolve()) for name, path in (sphinx.get("local_extensions") or {}).items()
    }
    sphinx.setdefault("config", {}).update(
        {
            "linkcheck_timeout": 15,
            "linkcheck_retries": 2,
            "linkcheck_workers": 8,
            "linkcheck_report_timeouts_as_broken": False,
        }
    )
    OUT.mkdir(parents=True, exist_ok=True)
    path_config = OUT / "_config.yml"
    path_config.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", str(ROOT), "--builder", "linkcheck", "--config", str(path_config)]
    cmd += ["--path-output", str(OUT)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    # Jupyter Book names the output folder html whatever the builder
    reports = sorted((OUT / "_build").glob("*/output.json"))
    report = reports[0] if reports else None
    if report is None:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
        print("linkcheck: the link checker did not run (see above); nothing was checked")
        return 0
    rows = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines() if line.strip()]
    (OUT / "output.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    counts = Counter(r["status"] for r in rows)
    print("linkcheck:", ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no links")
    for r in rows:
        if r["status"] not in ("working", "unchecked", "ignored"):
            print(
                f"  {r['status']:>10}  {r['filename']}:{r['lineno']}  {r['uri']}  {r.get('info', '')[:160]}"
            )
    if counts.get("broken") or counts.get("timeout"):
        print("linkcheck: some links could not be reached (without internet, none can); report only")
    return 0


if __name__ == "__main__":
    sys.exit(main())
