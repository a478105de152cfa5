"""The report as a paper's results section: headings in words, numbered tables and figures with captions, tables
with the pages' human labels (engine.common.labels.readable); the same tables as a DOCX a manuscript can take as it is
(python-docx), and the whole page as a PDF (Chromium's print)."""

from __future__ import annotations

import dataclasses
import html
import io
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from engine.common.labels import readable


@dataclasses.dataclass
class Document:
    """Blocks of HTML in reading order; tables and figures numbered as they are added."""

    blocks: list[str] = dataclasses.field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame, str]] = dataclasses.field(default_factory=list)  # caption, table, note
    figures: dict[str, Any] = dataclasses.field(default_factory=dict)  # file name -> plotly figure
    captions: dict[str, str] = dataclasses.field(default_factory=dict)  # file name -> "Figure n. ..."

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def paragraph(self, text: str) -> None:
        self.blocks.append(f"<p>{html.escape(text)}</p>")

    def table(self, frame: pd.DataFrame, caption: str, note: str = "") -> None:
        """'Table n. caption' above the table (human labels, p < 0.001, 3 decimals), an optional note below."""
        from engine.common.exports import spreadsheet_safe

        shown = spreadsheet_safe(readable(frame))
        title = f"Table {len(self.tables) + 1}. {caption}"
        self.tables.append((title, shown, note))
        body = shown.to_html(index=False, border=0, classes="table", na_rep="", float_format=lambda v: f"{v:.3f}")
        note_html = f"<p class='note'>{html.escape(note)}</p>" if note else ""
        self.blocks.append(f"<p class='caption'><b>{html.escape(title)}</b></p>{body}{note_html}")

    def figure(self, name: str, figure: Any, caption: str) -> None:
        """The interactive figure in place, 'Figure n. caption' below it; exported as figures/<name>.png/svg."""
        title = f"Figure {len(self.figures) + 1}. {caption}"
        self.figures[name] = figure
        self.captions[name] = title
        self.blocks.append(
            "<div class='figure'>"
            + figure.to_html(full_html=False, include_plotlyjs=False)
            + f"<p class='caption'><b>{html.escape(title)}</b></p></div>"
        )

    def html(self) -> str:
        return "".join(self.blocks)


def docx_bytes(title: str, subtitle: str, tables: list[tuple[str, pd.DataFrame, str]]) -> bytes:
    """Every table of the report in a Word document: the caption as a paragraph, then the table (header row bold)
    and its note, in the report's order and numbering."""
    from docx import Document as WordDocument
    from docx.shared import Pt

    document = WordDocument()
    document.add_heading(title, level=1)
    document.add_paragraph(subtitle)
    for caption, frame, note in tables:
        paragraph = document.add_paragraph()
        paragraph.add_run(caption).bold = True
        table = document.add_table(rows=1, cols=len(frame.columns))
        table.style = "Table Grid"
        for cell, column in zip(table.rows[0].cells, frame.columns):
            cell.text = ""
            cell.paragraphs[0].add_run(str(column)).bold = True
        for values in frame.itertuples(index=False):
            cells = table.add_row().cells
            for cell, value in zip(cells, values):
                cell.text = _cell_text(value)
        for row in table.rows:
            for cell in row.cells:
                for run in cell.paragraphs[0].runs:
                    run.font.size = Pt(8)
        document.add_paragraph(note)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _cell_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def pdf_bytes(page: str, *, timeout: float = 120) -> bytes | None:
    """The HTML page printed to PDF by headless Chromium (its plotly figures rendered first); None without
    Chromium or when the print fails (the HTML stays the report)."""
    from engine.plots import chromium_path

    browser = chromium_path()
    if browser is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "report.html", Path(folder) / "report.pdf"
        source.write_text(page, encoding="utf-8")
        command = [
            browser,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-pdf-header-footer",
            "--virtual-time-budget=20000",
            f"--user-data-dir={Path(folder) / 'profile'}",
            f"--print-to-pdf={target}",
            source.as_uri(),
        ]
        try:
            subprocess.run(command, capture_output=True, timeout=timeout, check=False, env={**os.environ})
        except (OSError, subprocess.TimeoutExpired):
            return None
        return target.read_bytes() if target.exists() and target.stat().st_size > 0 else None
