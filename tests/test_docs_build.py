"""The documentation builds with `mkdocs build --strict` and lists every page in the nav."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _nav_files(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [f for value in node.values() for f in _nav_files(value)]
    if isinstance(node, list):
        return [f for item in node for f in _nav_files(item)]
    return []


def test_every_docs_page_is_in_the_nav_and_exists():
    import yaml  # PyYAML: a dependency of mkdocs
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    nav = _nav_files(config["nav"])
    pages = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))
    missing = [p for p in pages if p not in nav]
    assert not missing, f"docs pages not in the nav of mkdocs.yml: {missing}"
    dangling = [p for p in nav if not (DOCS / p).is_file()]
    assert not dangling, f"nav entries without a file: {dangling}"
    for page in ("index.md", "getting-started.md", "guide/analyze.md", "guide/reproduce.md"):
        assert page in nav


def test_mkdocs_build_strict(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--clean", "-f", str(ROOT / "mkdocs.yml"),
         "-d", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    site = tmp_path / "site"
    assert (site / "index.html").is_file()
    assert (site / "guide" / "analyze" / "index.html").is_file()
    # the API reference is generated from the docstrings
    api = (site / "api" / "report" / "index.html").read_text()
    assert "reluscope.report.analyze" in api and "Analyze one network and write a report folder" in api
    network = (site / "api" / "network" / "index.html").read_text()
    assert "ReLUNetwork" in network and "activation_pattern" in network


def _mentioned_commands(text: str) -> set[str]:
    """Subcommands in `reluscope CMD` inline code and in shell code blocks."""
    import re

    found = set(re.findall(r"`reluscope ([a-z][a-z-]*)", text))
    in_shell = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            in_shell = not in_shell and stripped[3:].strip() in ("bash", "console", "shell", "sh")
            continue
        if in_shell:
            match = re.match(r"^(?:\$\s+)?(?:\.venv/bin/)?reluscope ([a-z][a-z-]*)", stripped)
            if match:
                found.add(match.group(1))
    return found


def test_readme_and_docs_only_mention_existing_commands():
    import typer.main

    from reluscope.cli import app

    commands = set(typer.main.get_command(app).commands)
    files = [ROOT / "README.md", *DOCS.rglob("*.md")]
    unknown = {}
    for path in files:
        missing = _mentioned_commands(path.read_text()) - commands
        if missing:
            unknown[path.relative_to(ROOT).as_posix()] = sorted(missing)
    assert not unknown, f"commands mentioned but not registered: {unknown}"
    readme = _mentioned_commands((ROOT / "README.md").read_text())
    assert {"analyze", "reproduce"} <= readme


def test_analyze_guide_describes_every_report_section():
    from reluscope.report import SECTION_KEYS

    text = (DOCS / "guide" / "analyze.md").read_text()
    missing = [key for key in SECTION_KEYS if f"(`{key}`)" not in text]
    assert not missing, f"sections not described in docs/guide/analyze.md: {missing}"


def test_reproduce_guide_lists_every_registered_experiment():
    from reluscope import experiments

    text = (DOCS / "guide" / "reproduce.md").read_text()
    missing = [name for name in experiments.names() if f"| `{name}` |" not in text]
    assert not missing, f"experiments not listed in docs/guide/reproduce.md: {missing}"


def test_background_index_links_every_background_page():
    text = (DOCS / "background" / "index.md").read_text()
    pages = [p.name for p in (DOCS / "background").glob("*.md") if p.name != "index.md"]
    missing = [name for name in pages if f"]({name})" not in text]
    assert not missing, f"background pages not linked from docs/background/index.md: {missing}"


def test_readme_lists_every_benchmark_script():
    text = (ROOT / "README.md").read_text()
    scripts = sorted(p.name for p in (ROOT / "benchmarks").glob("*.py") if not p.name.startswith("_"))
    missing = [name for name in scripts if f"| `{name}` |" not in text]
    assert not missing, f"benchmarks not listed in README.md: {missing}"
    assert "(BENCHMARKS.md)" in text and (ROOT / "BENCHMARKS.md").is_file()
