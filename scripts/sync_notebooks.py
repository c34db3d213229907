"""Keep the lessons' pairs in sync: notebooks/NN_*.py (the source) -> NN_*.ipynb (what users open).

    .venv/bin/python scripts/sync_notebooks.py           # rewrite links from pyproject, write every .ipynb
    .venv/bin/python scripts/sync_notebooks.py --check   # exit 1 if a pair differs, has outputs or stale links

The repository URL lives in one place, pyproject.toml's [project.urls] Repository; this script
rewrites each lesson's "Open in Modal Notebook" link and its install cell from it. The .py is
always the source: unlike `jupytext --sync`, nothing here depends on file modification times
(which a fresh clone does not preserve).
"""

from __future__ import annotations

import hashlib
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
LINK = re.compile(r"https://modal\.com/notebooks/new/\S+?/notebooks/(?P<name>[\w.-]+\.ipynb)")
REPO_LINE = re.compile(r'^REPO_URL = ".*"$', re.M)


def repo_url() -> str:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["urls"]["Repository"].rstrip("/")


def lessons() -> list[Path]:
    return sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]_*.py"))


def with_links(text: str, url: str) -> str:
    text = LINK.sub(lambda m: f"https://modal.com/notebooks/new/{url}/blob/main/notebooks/{m['name']}", text)
    return REPO_LINE.sub(f'REPO_URL = "{url}"', text)


def cells(path: Path) -> list[tuple[str, str, tuple]]:
    import jupytext

    nb = jupytext.read(path)
    return [(c.cell_type, c.source, tuple(c.metadata.get("tags", ()))) for c in nb.cells]


def problems() -> list[str]:
    import json

    url, out = repo_url(), []
    for py in lessons():
        text = py.read_text()
        if with_links(text, url) != text:
            out.append(f"{py.name}: links or REPO_URL differ from pyproject's {url}")
        ipynb = py.with_suffix(".ipynb")
        if not ipynb.exists():
            out.append(f"{ipynb.name}: missing")
            continue
        if cells(py) != cells(ipynb):
            out.append(f"{py.name} and {ipynb.name} differ")
        raw = json.loads(ipynb.read_text())
        if any(c.get("outputs") or c.get("execution_count") for c in raw["cells"] if c["cell_type"] == "code"):
            out.append(f"{ipynb.name}: has outputs")
    return out


def sync() -> None:
    import jupytext

    url = repo_url()
    for py in lessons():
        text = py.read_text()
        if with_links(text, url) != text:
            py.write_text(with_links(text, url))
        nb = jupytext.read(py)
        for i, cell in enumerate(nb.cells):
            # Stable cell ids (nbformat would draw random ones on every sync: diff noise).
            cell.id = hashlib.sha1(f"{py.stem}/{i}".encode()).hexdigest()[:8]
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        jupytext.write(nb, py.with_suffix(".ipynb"))
        print(f"synced {py.name} -> {py.with_suffix('.ipynb').name}")


def main() -> int:
    if "--check" in sys.argv[1:]:
        found = problems()
        print("\n".join(found) or "notebooks in sync")
        return 1 if found else 0
    sync()
    return 0


if __name__ == "__main__":
    sys.exit(main())
