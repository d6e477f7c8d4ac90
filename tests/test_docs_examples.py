"""Execute every ```python block of docs/guide/*.md, docs/getting-started.md and README.md.

Each page runs in a fresh namespace, in a fresh temporary working directory, with the
blocks of the page sharing that namespace in order (as a reader would type them). No block
is skipped silently: a block is left out only when the line right before its opening fence
is an explicit marker ``<!-- skip: reason -->`` with a non-empty reason (documented in
docs/guide/analyze.md, "Writing guide pages"); the test reports every skipped block.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "guide"
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^\n`]*)$")
SKIP = re.compile(r"^\s*<!--\s*skip:(?P<reason>.*?)-->\s*$")
EXECUTABLE = {"python", "py", "python3"}


def extract_blocks(text: str) -> list[dict]:
    """Fenced blocks of ``text`` with language, code, first line number and skip reason."""
    lines = text.splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence = match.group("indent"), match.group("fence")
        info = match.group("info").strip()
        language = info.split()[0].lstrip("{.").rstrip("}") if info else ""
        start = i
        body = []
        i += 1
        while i < len(lines) and not (lines[i].strip().startswith(fence[0] * len(fence))
                                      and lines[i].strip().strip(fence[0]) == ""):
            body.append(lines[i])
            i += 1
        j = start - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        skip = SKIP.match(lines[j]) if j >= 0 else None
        blocks.append({
            "language": language.lower(),
            "code": textwrap.dedent("\n".join(line[len(indent):] if line.startswith(indent) else line
                                              for line in body)),
            "line": start + 1,
            "skip": None if skip is None else skip.group("reason").strip(),
        })
        i += 1
    return blocks


PAGES = sorted(GUIDE.glob("*.md")) + [ROOT / "docs" / "getting-started.md", ROOT / "README.md"]


def test_there_are_guide_pages_with_examples():
    assert PAGES, "docs/guide/*.md is empty"
    assert any(b["language"] in EXECUTABLE for p in PAGES for b in extract_blocks(p.read_text()))


def test_extractor_and_skip_marker():
    text = ("intro\n\n```python\nx = 1\n```\n\n<!-- skip: needs a GPU -->\n```python\nraise SystemExit\n```\n"
            "\n```bash\nls\n```\n  ```py\n  y = 2\n  ```\n")
    blocks = extract_blocks(text)
    assert [b["language"] for b in blocks] == ["python", "python", "bash", "py"]
    assert blocks[0]["code"] == "x = 1" and blocks[0]["skip"] is None
    assert blocks[1]["skip"] == "needs a GPU"
    assert blocks[3]["code"] == "y = 2"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_guide_page_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    blocks = [b for b in extract_blocks(page.read_text()) if b["language"] in EXECUTABLE]
    namespace: dict = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    # a page may register a demo experiment; keep the registry as it was for other tests
    from reluscope import experiments

    experiments._load()
    registry = dict(experiments._REGISTRY)
    monkeypatch.setattr(experiments, "_REGISTRY", registry)
    skipped = []
    for block in blocks:
        if block["skip"] is not None:
            assert block["skip"], f"{page.name}:{block['line']}: a skip marker needs a reason"
            skipped.append(f"{page.name}:{block['line']} ({block['skip']})")
            continue
        code = compile(block["code"], f"{page.relative_to(ROOT)}:block@line{block['line']}", "exec")
        try:
            exec(code, namespace)
        except Exception as exc:  # noqa: BLE001 - re-raised with the location
            raise AssertionError(f"{page.name}, block at line {block['line']} failed: "
                                 f"{type(exc).__name__}: {exc}") from exc
    if skipped:
        print("skipped by explicit marker:", "; ".join(skipped))
    try:
        import matplotlib.pyplot as plt

        plt.close("all")
    except ImportError:  # pragma: no cover
        pass
