"""A tiny document model rendered both to Markdown and to self-contained HTML.

A report is a :class:`Document` made of :class:`Section` objects, each holding blocks
(:class:`Paragraph`, :class:`Table`, :class:`Figure`, :class:`Code`, :class:`Link`).
Rendering is done here, without a Markdown library, so that the two outputs carry the
same content and the HTML needs no external CSS, JavaScript or network access: figures
are referenced as relative PNG files that sit next to the report.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Sequence
from typing import Any, Union

__all__ = [
    "Paragraph",
    "Table",
    "Figure",
    "Code",
    "Link",
    "Block",
    "Section",
    "Document",
    "format_value",
]


def format_value(value: Any, digits: int = 6) -> str:
    """Format a number or value for a report cell (floats with ``digits`` significant digits)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:  # nan
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return f"{value:.{digits}g}"
    try:
        import numpy as np

        if isinstance(value, np.floating):
            return format_value(float(value), digits)
        if isinstance(value, np.integer):
            return str(int(value))
        if isinstance(value, np.bool_):
            return format_value(bool(value))
    except ImportError:  # pragma: no cover
        pass
    return str(value)


@dataclasses.dataclass(frozen=True)
class Paragraph:
    """Text with light inline markup: ``code`` spans and **bold**."""

    text: str


@dataclasses.dataclass(frozen=True)
class Table:
    """A table with a header row; cells are formatted with :func:`format_value`."""

    header: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    caption: str = ""


@dataclasses.dataclass(frozen=True)
class Figure:
    """A PNG figure, ``path`` relative to the report folder."""

    path: str
    caption: str


@dataclasses.dataclass(frozen=True)
class Code:
    """Preformatted text (for example a solver's certificate or a JSON excerpt)."""

    text: str
    language: str = ""


@dataclasses.dataclass(frozen=True)
class Link:
    """A link to a file in the report folder (relative path) with a label."""

    target: str
    label: str


Block = Union[Paragraph, Table, Figure, Code, Link]


@dataclasses.dataclass(frozen=True)
class Section:
    """One section of a report.

    ``status`` is ``"ok"``, ``"partial"`` (computed, but only bounds or an undecided
    verdict) or ``"not computed"``; ``reason`` says why when it is not ``"ok"``.
    """

    title: str
    blocks: tuple[Block, ...] = ()
    status: str = "ok"
    reason: str = ""
    anchor: str = ""

    def slug(self) -> str:
        if self.anchor:
            return self.anchor
        return re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-") or "section"


_INLINE_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")


def _inline_html(text: str) -> str:
    """Escape ``text`` and turn ``code`` and **bold** into HTML."""
    parts = []
    last = 0
    for match in _INLINE_CODE.finditer(text):
        parts.append(_BOLD.sub(r"<strong>\1</strong>", html.escape(text[last:match.start()])))
        parts.append(f"<code>{html.escape(match.group(1))}</code>")
        last = match.end()
    parts.append(_BOLD.sub(r"<strong>\1</strong>", html.escape(text[last:])))
    return "".join(parts)


def _md_cell(value: Any) -> str:
    return format_value(value).replace("|", "\\|").replace("\n", " ")


_STATUS_LABEL = {"ok": "computed", "partial": "partial (bounds / undecided)", "not computed": "not computed"}


@dataclasses.dataclass(frozen=True)
class Document:
    """A titled list of sections, with an optional introduction."""

    title: str
    sections: tuple[Section, ...]
    intro: tuple[Block, ...] = ()

    # ------------------------------------------------------------------ Markdown
    def to_markdown(self) -> str:
        out: list[str] = [f"# {self.title}", ""]
        for block in self.intro:
            out += _block_markdown(block)
        if len(self.sections) > 1:
            out.append("## Contents")
            out.append("")
            for section in self.sections:
                note = "" if section.status == "ok" else f" — {section.status}"
                out.append(f"- [{section.title}](#{section.slug()}){note}")
            out.append("")
        for section in self.sections:
            out.append(f'<a id="{section.slug()}"></a>')
            out.append("")
            out.append(f"## {section.title}")
            out.append("")
            if section.status != "ok":
                label = "Not computed" if section.status == "not computed" else "Partial"
                out.append(f"> **{label}:** {section.reason}")
                out.append("")
            for block in section.blocks:
                out += _block_markdown(block)
        return "\n".join(out).rstrip() + "\n"

    # ------------------------------------------------------------------ HTML
    def to_html(self) -> str:
        body: list[str] = [f"<h1>{html.escape(self.title)}</h1>"]
        for block in self.intro:
            body.append(_block_html(block))
        if len(self.sections) > 1:
            body.append('<nav><h2>Contents</h2><ul>')
            for section in self.sections:
                cls = section.status.replace(" ", "-")
                body.append(
                    f'<li><a href="#{section.slug()}">{html.escape(section.title)}</a>'
                    f' <span class="status {cls}">{html.escape(_STATUS_LABEL.get(section.status, section.status))}</span></li>'
                )
            body.append("</ul></nav>")
        for section in self.sections:
            body.append(f'<section id="{section.slug()}">')
            body.append(f"<h2>{html.escape(section.title)}</h2>")
            if section.status != "ok":
                cls = section.status.replace(" ", "-")
                label = "Not computed" if section.status == "not computed" else "Partial"
                body.append(f'<p class="note {cls}"><strong>{label}:</strong> {_inline_html(section.reason)}</p>')
            for block in section.blocks:
                body.append(_block_html(block))
            body.append("</section>")
        return _HTML_TEMPLATE.format(title=html.escape(self.title), body="\n".join(body))


def _block_markdown(block: Block) -> list[str]:
    if isinstance(block, Paragraph):
        return [block.text, ""]
    if isinstance(block, Table):
        lines = []
        if block.caption:
            lines += [f"*{block.caption}*", ""]
        lines.append("| " + " | ".join(_md_cell(h) for h in block.header) + " |")
        lines.append("|" + "|".join("---" for _ in block.header) + "|")
        for row in block.rows:
            lines.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
        return lines + [""]
    if isinstance(block, Figure):
        return [f"![{block.caption}]({block.path})", "", f"*{block.caption}*", ""]
    if isinstance(block, Code):
        return [f"```{block.language}", block.text.rstrip("\n"), "```", ""]
    if isinstance(block, Link):
        return [f"[{block.label}]({block.target})", ""]
    raise TypeError(f"unknown block type {type(block).__name__}")


def _block_html(block: Block) -> str:
    if isinstance(block, Paragraph):
        return f"<p>{_inline_html(block.text)}</p>"
    if isinstance(block, Table):
        parts = ["<table>"]
        if block.caption:
            parts.append(f"<caption>{_inline_html(block.caption)}</caption>")
        parts.append("<thead><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in block.header) + "</tr></thead>")
        parts.append("<tbody>")
        for row in block.rows:
            parts.append("<tr>" + "".join(f"<td>{html.escape(format_value(c))}</td>" for c in row) + "</tr>")
        parts.append("</tbody></table>")
        return "".join(parts)
    if isinstance(block, Figure):
        src = html.escape(block.path, quote=True)
        cap = html.escape(block.caption)
        return f'<figure><img src="{src}" alt="{cap}"><figcaption>{cap}</figcaption></figure>'
    if isinstance(block, Code):
        return f"<pre><code>{html.escape(block.text)}</code></pre>"
    if isinstance(block, Link):
        return f'<p><a href="{html.escape(block.target, quote=True)}">{html.escape(block.label)}</a></p>'
    raise TypeError(f"unknown block type {type(block).__name__}")


def blocks_text(blocks: Sequence[Block]) -> str:
    """Plain Markdown of a list of blocks (used in summaries)."""
    return "\n".join(line for block in blocks for line in _block_markdown(block))


_HTML_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #1b1b1b; line-height: 1.45; }}
h1 {{ border-bottom: 2px solid #444; padding-bottom: .3rem; }}
h2 {{ border-bottom: 1px solid #ccc; padding-bottom: .2rem; margin-top: 2.2rem; }}
table {{ border-collapse: collapse; margin: .8rem 0; font-size: .92rem; }}
th, td {{ border: 1px solid #bbb; padding: .25rem .6rem; text-align: left; }}
th {{ background: #f0f0f0; }}
caption {{ caption-side: top; text-align: left; font-style: italic; padding-bottom: .3rem; }}
figure {{ margin: 1rem 0; }}
figure img {{ max-width: 100%; height: auto; border: 1px solid #ddd; }}
figcaption {{ font-style: italic; font-size: .9rem; color: #444; }}
pre {{ background: #f6f6f6; padding: .6rem; overflow-x: auto; font-size: .85rem; }}
code {{ background: #f3f3f3; padding: 0 .2rem; }}
pre code {{ background: none; padding: 0; }}
.status {{ font-size: .8rem; padding: 0 .35rem; border-radius: .3rem; background: #e3f3e3; }}
.status.not-computed {{ background: #f8dddd; }}
.status.partial {{ background: #fbf0d0; }}
.note {{ border-left: 4px solid #c33; padding: .3rem .7rem; background: #fdf1f1; }}
.note.partial {{ border-left-color: #c90; background: #fdf8ea; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""
