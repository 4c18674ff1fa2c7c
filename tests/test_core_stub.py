"""python/wirekit/_core.pyi describes the compiled module exactly: the same public names,
the same class members, and for every call the same parameters (names, keyword-only or not,
defaults) as the signatures PyO3 compiled in."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from wirekit import _core

STUB = Path(__file__).resolve().parents[1] / "python" / "wirekit" / "_core.pyi"


def _tree() -> ast.Module:
    return ast.parse(STUB.read_text(encoding="utf-8"), filename=str(STUB))


def _stub_names(body) -> dict[str, ast.AST]:
    """Names a stub body defines: classes, functions, annotated or assigned names."""
    out: dict[str, ast.AST] = {}
    for node in body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            out[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out[node.target.id] = node
        elif isinstance(node, ast.Assign):
            out.update((t.id, node) for t in node.targets if isinstance(t, ast.Name))
    return out


def _public(names) -> set[str]:
    return {n for n in names if not n.startswith("_")}


STUB_TOP = _stub_names(_tree().body)
CLASSES = sorted(n for n in _public(dir(_core)) if isinstance(getattr(_core, n), type))


def test_module_names_match_both_ways():
    assert _public(dir(_core)) == _public(STUB_TOP)
    assert "__version__" in STUB_TOP


@pytest.mark.parametrize("name", CLASSES)
def test_class_members_match_both_ways(name):
    node = STUB_TOP[name]
    assert isinstance(node, ast.ClassDef)
    assert _public(dir(getattr(_core, name))) == _public(_stub_names(node.body))


def _stub_params(fn: ast.FunctionDef) -> list[tuple[str, str, object]]:
    """(name, kind, default) per parameter, self or cls dropped; default is a value, `...` when the
    stub writes `...`, or inspect.Parameter.empty."""
    a = fn.args
    pos = a.posonlyargs + a.args
    pos_defaults = [inspect.Parameter.empty] * (len(pos) - len(a.defaults)) + list(a.defaults)
    out = []
    for arg, d in zip(pos, pos_defaults):
        out.append((arg.arg, "positional", d))
    for arg, d in zip(a.kwonlyargs, a.kw_defaults):
        out.append((arg.arg, "keyword", inspect.Parameter.empty if d is None else d))
    out = [(n, k, d if d is inspect.Parameter.empty else eval(compile(ast.Expression(d), "<stub>", "eval")))
           for n, k, d in out]
    return [p for p in out if p[0] not in ("self", "cls")]


def _runtime_params(obj) -> list[tuple[str, str, object]]:
    kinds = {inspect.Parameter.POSITIONAL_ONLY: "positional",
             inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional",
             inspect.Parameter.KEYWORD_ONLY: "keyword"}
    sig = inspect.signature(obj)
    return [(p.name, kinds[p.kind], p.default) for p in sig.parameters.values() if p.name != "self"]


def _calls():
    """(label, runtime object, stub FunctionDef) for every function, method and constructor."""
    out = []
    for name, node in STUB_TOP.items():
        # names missing on either side fail test_module_names_match_both_ways
        if isinstance(node, ast.FunctionDef) and not name.startswith("_") and hasattr(_core, name):
            out.append((name, getattr(_core, name), node))
    for name in CLASSES:
        if name not in STUB_TOP:
            continue
        cls = getattr(_core, name)
        for member, fn in _stub_names(STUB_TOP[name].body).items():
            if not isinstance(fn, ast.FunctionDef) or any(
                    isinstance(d, ast.Name) and d.id == "property" for d in fn.decorator_list):
                continue
            if member == "__new__":
                out.append((f"{name}()", cls, fn))
            elif not member.startswith("_") and hasattr(cls, member):
                out.append((f"{name}.{member}", getattr(cls, member), fn))
    return out


CALLS = _calls()


def _comparable(params):
    """Defaults the compiled signature shows as `...` (Rust expressions such as usize::MAX
    or 4<<20) are compared by presence only."""
    return [(n, k, d is not inspect.Parameter.empty) for n, k, d in params]


@pytest.mark.parametrize("label, obj, fn", CALLS, ids=[c[0] for c in CALLS])
def test_signatures_match_the_compiled_ones(label, obj, fn):
    try:
        runtime = _runtime_params(obj)
    except ValueError:
        pytest.skip(f"{label}: no compiled signature")
    stub = _stub_params(fn)
    assert _comparable(stub) == _comparable(runtime)
    for (n, _, sd), (_, _, rd) in zip(stub, runtime):
        if rd is not inspect.Parameter.empty and rd is not Ellipsis:
            assert sd == rd, f"{label}: default of {n}"


def test_every_call_was_checked():
    # Constructors of classes without a #[new] have no compiled signature; every other call
    # of the stub must have had one to compare against.
    unchecked = []
    for label, obj, _ in CALLS:
        try:
            inspect.signature(obj)
        except ValueError:
            unchecked.append(label)
    assert unchecked == []
