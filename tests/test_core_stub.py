"""The hand-written types of the compiled engine (python/mnistmlp/_core.pyi) hold the built
module's every name, method, attribute and parameter, and nothing else."""

import ast
import re
from pathlib import Path

import pytest

import mnistmlp
from mnistmlp import _core

STUB = Path(mnistmlp.__file__).with_name("_core.pyi")


def stub_tree() -> ast.Module:
    return ast.parse(STUB.read_text())


def stub_classes():
    """{class name: {member: its stub node}}, members of the private bases included."""
    tree = stub_tree()
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}

    def members(node):
        found = {}
        for base in node.bases:
            if isinstance(base, ast.Name) and base.id in classes:
                found.update(members(classes[base.id]))
        for item in node.body:
            if isinstance(item, ast.FunctionDef):
                found[item.name] = item
            elif isinstance(item, ast.AnnAssign):
                found[item.target.id] = item
        return found

    return {name: members(node) for name, node in classes.items() if not name.startswith("_")}


def public(names):
    return {name for name in names if not name.startswith("_")}


def test_the_stub_holds_exactly_the_modules_names():
    declared = set()
    for node in stub_tree().body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            declared.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            declared.add(node.target.id)
    assert public(declared) == public(dir(_core))


@pytest.mark.parametrize("name", sorted(stub_classes()))
def test_each_class_holds_exactly_its_members(name):
    members = public(stub_classes()[name]) - {"__init__"}
    assert members == public(dir(getattr(_core, name)))


def parameters(signature: str):
    """The parameter names of a pybind11 signature line such as ``f(self: T, a: int = 0) -> R``."""
    inside = signature[signature.index("(") + 1: signature.rindex(") ->")]
    names, depth, current = [], 0, ""
    for char in inside + ",":
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            if current.strip():
                names.append(current.strip().split(":")[0].split("=")[0].strip().lstrip("*"))
            current = ""
        else:
            current += char
    return [name for name in names if name not in ("self", "kwargs")]


def stub_parameters(node: ast.FunctionDef):
    arguments = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
    return [a.arg for a in arguments if a.arg != "self"]


def functions():
    for node in stub_tree().body:
        if isinstance(node, ast.FunctionDef):
            yield node.name, getattr(_core, node.name), node
    for name, members in stub_classes().items():
        for member, node in members.items():
            if isinstance(node, ast.FunctionDef) and not any(
                    isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list):
                yield f"{name}.{member}", getattr(getattr(_core, name), member), node


@pytest.mark.parametrize("name,function,node", list(functions()), ids=[name for name, _, _ in functions()])
def test_each_function_takes_the_stubs_parameters(name, function, node):
    first_line = re.sub(r"^\d+\. ", "", (function.__doc__ or "").strip().splitlines()[0])
    assert parameters(first_line) == stub_parameters(node), first_line
