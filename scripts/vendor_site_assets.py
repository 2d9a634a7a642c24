"""Copy the JavaScript the website serves itself from node_modules into the build.

The site loads nothing from a third-party CDN: MathJax 3, RequireJS and the Jupyter
widgets HTML manager come from the npm registry (``npm ci`` with the committed
``package-lock.json``), and this script copies the files the pages need, with their
licences, into ``<dest>/vendor/``. ``_config.yml`` lists ``<dest>`` in
``html_static_path``, so they end up in ``_build/html/_static/vendor/``.

Usage: ``python scripts/vendor_site_assets.py node_modules _build/site-assets``

It also checks that the HTML manager matches the installed ipywidgets
(``ipywidgets._version.__html_manager_version__``), so a widget state saved by the
kernel can be rendered by the manager the site ships.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

# (package, files or folders relative to the package, destination folder under vendor/)
ASSETS = [
    (
        "mathjax",
        [
            # tex-chtml-nomenu.js (what mathjax_path points at) is made from components
            # below (MATHJAX_BUNDLE); the TeX extensions and fonts are loaded on demand
            "es5/input/tex/extensions",  # loaded on demand (autoload, \require)
            "es5/output/chtml/fonts/woff-v2",  # the CHTML fonts
            "LICENSE",
        ],
        "mathjax",
    ),
    ("requirejs", ["require.js"], "requirejs"),
    (
        "@jupyter-widgets/html-manager",
        ["dist/embed-amd.js", "dist/embed.js.LICENSE.txt", "dist/*.woff2", "dist/*.woff", "dist/*.ttf"],
        "html-manager",
    ),
]


# Loaded between require.js and embed-amd.js. The HTML manager is an AMD module named
# "@jupyter-widgets/html-manager/dist/embed-amd" and finds its fonts next to the URL
# RequireJS gives that name, which by default is relative to the page; this points the
# name (and the manager's asset path) at the folder this file is served from.
REQUIRE_PATHS_JS = """\
(function () {
  var here = document.currentScript.src.replace(/[?#].*$/, "").replace(/[^/]*$/, "");
  window.__jupyter_widgets_assets_path__ = here;
  window.require.config({ paths: { "@jupyter-widgets/html-manager/dist": here.replace(/\\/$/, "") } });
})();
"""


# One file for MathJax, as tex-mml-chtml.js is, without the two parts no page uses: the
# context menu (ui/menu, 426 kB of the 1.17 MB) and the MathML input. The startup
# component first, so that the others register with it as they run; then they are
# marked as loaded, so that nothing fetches them again (an extension that TeX loads on
# demand names input/tex-base as its dependency, which input/tex provides).
MATHJAX_BUNDLE = "tex-chtml-nomenu.js"
MATHJAX_PARTS = ["core", "input/tex", "output/chtml", "output/chtml/fonts/tex", "a11y/assistive-mml"]


def write_mathjax_bundle(es5: Path, dst: Path) -> int:
    chunks = [(es5 / "startup.js").read_text(encoding="utf-8")]
    names = ", ".join(f"'{n}'" for n in MATHJAX_PARTS)
    chunks.append(f"MathJax.loader.preLoad({names});")
    chunks += [(es5 / f"{n}.js").read_text(encoding="utf-8") for n in MATHJAX_PARTS]
    dst.write_text("\n;\n".join(chunks) + "\n", encoding="utf-8")
    return dst.stat().st_size


def _copy(src: Path, dst: Path) -> int:
    """Copy a file or a folder; returns the number of bytes copied."""
    if src.is_dir():
        shutil.copytree(src, dst)
        return sum(p.stat().st_size for p in dst.rglob("*") if p.is_file())
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst.stat().st_size


def _caret_allows(spec: str, version: str) -> bool:
    """Whether ``version`` satisfies an npm range of the form ``^X.Y.Z`` (or an exact version)."""

    def parts(v):
        return tuple(int(x) for x in v.split("-")[0].split("."))

    if not spec.startswith("^"):
        return parts(spec) == parts(version)
    low, have = parts(spec[1:]), parts(version)
    return have >= low and have[0] == low[0]


def check_html_manager(node_modules: Path) -> str:
    meta = json.loads((node_modules / "@jupyter-widgets/html-manager/package.json").read_text())
    try:
        from ipywidgets._version import __html_manager_version__ as wanted
    except ImportError:  # ipywidgets 7 has no such attribute; 8 is what builds the site
        return meta["version"]
    if not _caret_allows(wanted, meta["version"]):
        sys.exit(
            f"@jupyter-widgets/html-manager {meta['version']} does not match the installed ipywidgets, "
            f"which wants {wanted}: update package.json and package-lock.json (npm install)"
        )
    return meta["version"]


def main(node_modules: str, dest: str) -> None:
    node_modules, dest = Path(node_modules), Path(dest)
    check_html_manager(node_modules)
    vendor = dest / "vendor"
    if vendor.exists():
        shutil.rmtree(vendor)
    vendor.mkdir(parents=True)
    notices = [
        "Third-party files served by this website, installed from the npm registry at build time.",
        "Each keeps its own licence (where to find the texts: below the list).",
        "",
    ]
    total = 0
    for package, items, target in ASSETS:
        root = node_modules / package
        meta = json.loads((root / "package.json").read_text())
        notices.append(
            f"- {package} {meta['version']} ({meta.get('license', 'see package')}): vendor/{target}/"
        )
        for item in items:
            matches = sorted(root.glob(item)) if "*" in item else [root / item]
            if not matches or not all(m.exists() for m in matches):
                sys.exit(f"missing in {root}: {item} (run `npm ci`)")
            for src in matches:
                rel = src.relative_to(root)
                # keep the layout below es5/ (MathJax finds its parts relative to itself)
                rel = Path(*rel.parts[1:]) if rel.parts[0] in ("es5", "dist") else rel
                total += _copy(src, vendor / target / rel)
    notices += [
        "",
        "RequireJS is MIT-licensed (copyright jQuery Foundation and other contributors);",
        "its licence header is at the top of vendor/requirejs/require.js.",
        "The Jupyter widgets HTML manager is BSD-3-Clause (copyright Project Jupyter",
        "Contributors); the licences of the code it bundles are in",
        "vendor/html-manager/embed.js.LICENSE.txt. MathJax is Apache-2.0: vendor/mathjax/LICENSE.",
    ]
    total += write_mathjax_bundle(node_modules / "mathjax" / "es5", vendor / "mathjax" / MATHJAX_BUNDLE)
    (vendor / "LICENSES.txt").write_text("\n".join(notices) + "\n")
    (vendor / "html-manager" / "require-paths.js").write_text(REQUIRE_PATHS_JS)
    print(f"site assets: {total / 1e6:.1f} MB copied into {vendor}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(*sys.argv[1:])
