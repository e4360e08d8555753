"""The one HTML page every QA report is written as: its Markdown, rendered, plus its plots."""

from __future__ import annotations

from html import escape
from pathlib import Path

import markdown as markdown_lib

STYLE = (
    "body{font-family:sans-serif;max-width:72em;margin:2em auto}"
    "table{border-collapse:collapse}td,th{border:1px solid #999;padding:.25em .6em}"
    "img{max-width:32%}"
)


def write_html_report(out_dir: Path, title: str, md: str, images: dict[str, str] | None = None) -> Path:
    """``out_dir/report.html`` from ``md``; ``images``: file name -> alt text, shown in a row."""
    body = markdown_lib.markdown(md, extensions=["tables"])
    row = "".join(f"<img src='{escape(src)}' alt='{escape(alt)}'>" for src, alt in (images or {}).items())
    page = (
        f"<!doctype html><html lang='en'><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{STYLE}</style>{body}{f'<p>{row}</p>' if row else ''}</html>"
    )
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
