"""Fails the HTML build (as a warning, which -W makes an error) when a page would load a
script, style sheet, font or image from another site: the documentation must work offline,
and CI has no network to fetch anything while building it. Links a reader may follow are
not assets and are allowed."""

from __future__ import annotations

import re
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

# <script src=...>, <img src=...>, <link href=...> (style sheets, fonts, icons) and CSS url(...)
# whose address names a scheme or starts with //.
_REMOTE = re.compile(
    r"""<(?:script|img|iframe|source)\b[^>]*\bsrc\s*=\s*["']?(?P<src>(?:[a-z][a-z0-9+.-]*:)?//[^"'\s>]+)"""
    r"""|<link\b[^>]*\bhref\s*=\s*["']?(?P<href>(?:[a-z][a-z0-9+.-]*:)?//[^"'\s>]+)"""
    r"""|url\(\s*["']?(?P<url>(?:[a-z][a-z0-9+.-]*:)?//[^"')\s]+)""",
    re.IGNORECASE,
)


def remote_assets(outdir: Path):
    """(file, address) of every remote asset the built pages and style sheets load."""
    for path in sorted(outdir.rglob("*")):
        if path.suffix not in (".html", ".css", ".js") or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in _REMOTE.finditer(text):
            address = match.group("src") or match.group("href") or match.group("url")
            if address.startswith(("data:", "file:")):
                continue
            yield path.relative_to(outdir), address


def _check(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for path, address in remote_assets(Path(app.outdir)):
        logger.warning("%s loads %s from the network; the documentation must work offline", path, address)


def setup(app: Sphinx) -> dict:
    app.connect("build-finished", _check)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
