"""How the API reference reads the package's docstrings.

- napoleon parses the ``Parameters`` / ``Returns`` sections of functions and classes (NumPy
  style), but not the docstrings of attributes, properties and module data: napoleon reads
  their first line ``X: Y`` as "type: description", and this package's attribute docstrings
  are prose ("Threads the engine uses now: settable; ...").
- Each name is described once: a module's page leaves out the names of its ``__all__`` that a
  module listed before it in api/index.md already documents (``mnistmlp`` documents ``MLP``;
  ``mnistmlp.model``'s page then only holds what is its own).
- A reference a docstring writes as its own module sees the name (``DataError`` in
  ``mnistmlp.datasets.idx``, which imports it from ``mnistmlp.datasets``) resolves to where
  the reference documents that object, found by importing it; in a private module's docstring
  (shown with ``no-index``), a name the reference does not document is left as plain text.
- A class's members that another project defines for it (scikit-learn gives every estimator
  ``set_fit_request`` and the like) are that project's to document, and left out.
- A class's bases (``show-inheritance``) name only what the reference documents or another
  project defines: a private or undocumented base of mnistmlp's (``_Monitoring``) is replaced
  by its own bases, so "Bases:" never points nowhere.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

from docutils.nodes import Element
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.pycode import ModuleAnalyzer
from sphinx.ext.napoleon import _process_docstring

_PROSE = {"attribute", "data", "property"}
# Module data whose repr is longer than this is shown without its value.
_LONGEST_VALUE = 200
# The modules the reference documents: the entries of api/index.md's autosummary.
_API_INDEX = Path(__file__).resolve().parent.parent / "api" / "index.md"


def api_modules() -> List[str]:
    """The modules listed in api/index.md, in order."""
    return re.findall(r"^ {3}(mnistmlp(?:\.\w+)*)\s*$", _API_INDEX.read_text(encoding="utf-8"), re.MULTILINE)


def _public(module_name: str) -> Dict[str, Any]:
    """The names of a module's ``__all__`` and their objects."""
    module = importlib.import_module(module_name)
    return {name: getattr(module, name) for name in getattr(module, "__all__", ()) if hasattr(module, name)}


def documented_elsewhere() -> Dict[str, List[str]]:
    """For each API module, the names of its ``__all__`` that an earlier one documents."""
    seen: Set[int] = set()
    excluded: Dict[str, List[str]] = {}
    for module_name in api_modules():
        members = _public(module_name)
        excluded[module_name] = [name for name, obj in members.items()
                                 if id(obj) in seen and not inspect.ismodule(obj)]
        seen.update(id(obj) for obj in members.values())
    return excluded


def _documents_itself(module_name: str, name: str) -> bool:
    """Whether automodule's ``:members:`` documents module data ``name``: only data assigned
    in the module with a ``#:`` comment; imported data needs an ``autodata`` of its own."""
    analyzer = ModuleAnalyzer.for_module(module_name)
    analyzer.analyze()
    return ("", name) in analyzer.attr_docs


def imported_data() -> Dict[str, List[Tuple[str, bool]]]:
    """For each API module, (name, whether to show its value) of each datum of its
    ``__all__`` that only an ``autodata`` directive documents (and no earlier module does)."""
    elsewhere = documented_elsewhere()
    found: Dict[str, List[Tuple[str, bool]]] = {}
    for module_name in api_modules():
        found[module_name] = [
            (name, len(repr(obj)) <= _LONGEST_VALUE)
            for name, obj in _public(module_name).items()
            if not (inspect.ismodule(obj) or inspect.isclass(obj) or callable(obj))
            and name not in elsewhere[module_name] and not _documents_itself(module_name, name)
        ]
    return found


def _defining_comment(obj: Any, name: str) -> List[str]:
    """The ``#:`` comment of the package module that assigns ``obj`` to ``name``, if any."""
    for module_name, module in sorted(sys.modules.items()):
        if module_name.split(".")[0] != "mnistmlp" or getattr(module, name, None) is not obj:
            continue
        try:
            analyzer = ModuleAnalyzer.for_module(module_name)
            analyzer.analyze()
        except Exception:  # a compiled or generated module: no source to read
            continue
        if ("", name) in analyzer.attr_docs:
            return list(analyzer.attr_docs[("", name)])
    return []


def _documented() -> Set[int]:
    """ids of the objects the reference documents: each API module's ``__all__``."""
    return {id(obj) for module_name in api_modules() for obj in _public(module_name).values()}


def _lookup(namespace: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        namespace = getattr(namespace, part)
    return namespace


def _object_of(full_name: str) -> Any:
    """The object a documented full name stands for, or None."""
    parts = full_name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            return _lookup(module, ".".join(parts[cut:])) if parts[cut:] else module
        except AttributeError:
            return None
    return None


# id of each documented object -> its documented full name, and how many names it was made from.
_DOCUMENTED_NAMES: Dict[int, str] = {}
_MADE_FROM = [0]


def _resolve_as_imported(app: Sphinx, env: BuildEnvironment, node: Element, contnode: Element) -> Optional[Element]:
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip(".")
    module_name, class_name = node.get("py:module"), node.get("py:class")
    namespaces = []
    if module_name:
        context = _object_of(module_name + (f".{class_name}" if class_name else ""))
        namespaces += [_object_of(module_name), sys.modules.get(getattr(context, "__module__", None) or "")]
    found = _object_of(target) if "." in target else None
    for namespace in filter(None, namespaces if found is None else []):
        try:
            found = _lookup(namespace, target)
            break
        except AttributeError:
            continue
    domain = env.get_domain("py")
    if namespaces == [] and "." not in target:
        # No context (an autosummary table's summary line): the one documented object of
        # that name, if there is exactly one.
        named = [name for name, entry in domain.objects.items()
                 if name.rpartition(".")[2] == target and not entry.aliased]
        if len(named) == 1:
            return domain.resolve_xref(env, node.get("refdoc", ""), app.builder, node["reftype"], named[0], node,
                                       contnode)
    if found is None or isinstance(found, (str, int, float, bool)):
        return None
    if _MADE_FROM[0] != len(domain.objects):  # made once, when every page has been read
        _DOCUMENTED_NAMES.clear()
        for name in domain.objects:
            obj = _object_of(name)
            if obj is not None:
                _DOCUMENTED_NAMES.setdefault(id(obj), name)
        _MADE_FROM[0] = len(domain.objects)
    name = _DOCUMENTED_NAMES.get(id(found))
    if not name:
        # A private module's docstring (shown on a page with no-index) naming its own private
        # functions: plain text, as nitpick_ignore_regex treats private names.
        private = module_name and any(part.startswith("_") for part in module_name.split("."))
        return contnode if private else None
    return domain.resolve_xref(env, node.get("refdoc", ""), app.builder, node["reftype"], name, node, contnode)


def _napoleon_except_prose(app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: List[str]) -> None:
    if what not in _PROSE:
        _process_docstring(app, what, name, obj, options, lines)
    elif what == "data" and (not "".join(lines).strip() or "\n".join(lines).strip() == (type(obj).__doc__ or "").strip()):
        # Imported data: its comment where it is assigned (mnistmlp._spec...), not its type's.
        lines[:] = _defining_comment(obj, name.rpartition(".")[2])


def _public_bases(app: Sphinx, name: str, obj: Any, options: Any, bases: List[type]) -> None:
    documented = _documented()

    def shown(base: type) -> List[type]:
        if not base.__module__.split(".")[0] == "mnistmlp" or id(base) in documented:
            return [base]
        return [ancestor for parent in base.__bases__ for ancestor in shown(parent)]

    replaced = [ancestor for base in bases for ancestor in shown(base)]
    bases[:] = [] if replaced == [object] else list(dict.fromkeys(replaced))


def _skip_foreign_members(app: Sphinx, what: str, name: str, obj: Any, skip: bool, options: Any) -> Optional[bool]:
    module = getattr(obj, "__module__", None)
    if what == "class" and inspect.isroutine(obj) and module and module.split(".")[0] != "mnistmlp":
        return True
    return None


def _forget_removed_modules(app: Sphinx) -> None:
    """Deletes the generated page of a module no longer in api/index.md (autosummary keeps it,
    and the build would then warn that no toctree includes it)."""
    listed = set(api_modules())
    for page in (_API_INDEX.parent / "generated").glob("*.rst"):
        if page.stem not in listed:
            page.unlink()


def setup(app: Sphinx) -> dict:
    app.setup_extension("sphinx.ext.napoleon")
    for listener in list(app.events.listeners["autodoc-process-docstring"]):
        if listener.handler is _process_docstring:
            app.disconnect(listener.id)
    app.connect("autodoc-process-docstring", _napoleon_except_prose)
    app.connect("builder-inited", _forget_removed_modules, priority=400)  # before autosummary's
    app.connect("autodoc-process-bases", _public_bases)
    app.connect("autodoc-skip-member", _skip_foreign_members)
    app.connect("missing-reference", _resolve_as_imported)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
