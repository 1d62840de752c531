"""The ``argparse-help`` directive: a command line's reference, generated from its parser.

::

    ```{argparse-help} mnistmlp.cli:build_parser
    ```

makes one section per command: the top-level parser first, then each sub-command (and theirs,
depth first), each with its one-line summary and its ``--help`` text as the program prints
it, 100 columns wide. The parser stays the only place where an option is described. Each
section is a label: ``{ref}`mnistmlp train <cli-train>``` links to it.
"""

from __future__ import annotations

import argparse
import importlib
import os
from typing import Iterator, List, Optional, Tuple

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

COLUMNS = "100"


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[Tuple[str, Optional[str], argparse.ArgumentParser]]:
    """(name, one-line help, parser) of each sub-command of ``parser``, in the order defined."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            summaries = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield name, summaries.get(name), sub


def _help_text(parser: argparse.ArgumentParser) -> str:
    """``parser.format_help()`` at a fixed width, whatever terminal builds the documentation."""
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = COLUMNS
    try:
        return parser.format_help()
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved


class ArgparseHelp(SphinxDirective):
    required_arguments = 1
    has_content = False

    def run(self) -> List[nodes.Node]:
        module_name, _, function = self.arguments[0].partition(":")
        module = importlib.import_module(module_name)
        if getattr(module, "__file__", None):
            self.env.note_dependency(module.__file__)
        parser = getattr(module, function)()
        return self._sections(parser, parser.prog, None, [])

    def _sections(self, parser, prog: str, summary: Optional[str], path: List[str]) -> List[nodes.Node]:
        label = "cli" + "".join(f"-{name}" for name in path) if path else "cli"
        section = nodes.section(ids=[nodes.make_id(label)], names=[label])
        section += nodes.title(text=prog)
        if summary:
            section += nodes.paragraph(text=summary[0].upper() + summary[1:] + ".")
        text = _help_text(parser)
        block = nodes.literal_block(text, text, language="text")
        section += block
        self.state.document.note_explicit_target(section)
        found = [section]
        for name, sub_summary, sub in _subcommands(parser):
            found += self._sections(sub, f"{prog} {name}", sub_summary, [*path, name])
        return found


def setup(app: Sphinx) -> dict:
    app.add_directive("argparse-help", ArgparseHelp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
