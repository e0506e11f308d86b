"""Parameters documented once and shown everywhere: what ``docs/conf.py`` does to the docstrings before the API
pages are written (and what ``tests/test_docs_examples.py`` checks).

A parameter several classes share (the direct rules' ``projection``, ``layout``, ``seed``, ``parallel``,
``normalize``, ``error_scale``, ``bp_points``) is documented once, in the base class that takes it
(:class:`nnlite.rules.direct.DirectRule`). :func:`inherit_parameters` copies the entry of each parameter a class's
constructor takes but its own docstring does not document, word for word, from the first class of its MRO whose
docstring does, into the class's ``Parameters`` section (replacing a sentence "Parameters (...) as for X."), so
that the page of every class lists every parameter it takes.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from numpydoc.docscrape import NumpyDocString

#: The sentence a class used to send its reader elsewhere with; replaced by the parameters themselves.
_AS_FOR = re.compile(r"^Parameters \([^)]*\) as for\s+:class:`[^`]+`\.\s*$", re.M | re.S)
_SECTION = re.compile(r"^([A-Z][A-Za-z ]+)\n-{3,}\n", re.M)


def signature_parameters(cls: type) -> list[str]:
    """The named parameters of ``cls``'s constructor (not ``self``, ``*args``, ``**kwargs``)."""
    try:
        sig = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return [p.name for p in list(sig.parameters.values())[1:] if p.kind not in kinds]


def documented(doc: str | None) -> dict[str, Any]:
    """The ``Parameters`` entries of a NumPy-style docstring, by name (``a, b : int`` documents both)."""
    if not doc:
        return {}
    out = {}
    for p in NumpyDocString(inspect.cleandoc(doc))["Parameters"]:
        for name in p.name.split(","):
            out[name.strip().lstrip("*")] = p
    return out


def _entry(p: Any) -> str:
    head = f"{p.name} : {p.type}" if p.type else p.name
    return "\n".join([head, *("    " + line if line.strip() else "" for line in p.desc)])


_AS_FOR_ENTRY = re.compile(r"^As for :class:`~?([\w.]+)`(.*)$", re.S)


def _resolve(path: str) -> Any:
    import importlib

    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _from_bases(cls: type, name: str) -> Any:
    for base in cls.__mro__[1:]:
        found = documented(base.__dict__.get("__doc__")).get(name)
        if found is not None:
            return found
    return None


def inherit_parameters(cls: type) -> list[str]:
    """Complete ``cls.__doc__``'s ``Parameters`` (see the module's docstring): an entry "As for :class:`X`" becomes
    X's own entry for each name it covers (then what followed it), and a parameter of the constructor no entry
    covers is taken from the first base class that documents it. Returns the parameters no class documents."""
    doc = inspect.cleandoc(cls.__doc__ or "")
    entries: list[str] = []
    names: set[str] = set()
    for p in NumpyDocString(doc)["Parameters"]:
        text = " ".join(line.strip() for line in p.desc)
        m = _AS_FOR_ENTRY.match(text)
        split = [n.strip().lstrip("*") for n in p.name.split(",")]
        if m is None:
            entries.append(_entry(p))
            names.update(split)
            continue
        source = _resolve(m.group(1))
        rest = m.group(2).lstrip(";,. ").strip()
        for n in split:
            found = documented(source.__dict__.get("__doc__")).get(n) or _from_bases(source, n)
            if found is None:
                entries.append(_entry(p))
                break
            lines = list(found.desc) + ([rest[0].upper() + rest[1:]] if rest else [])
            entries.append(_entry(type(found)(n, found.type, lines)))
            names.add(n)
    nowhere = []
    for name in signature_parameters(cls):
        if name in names:
            continue
        found = _from_bases(cls, name)
        if found is None:
            nowhere.append(name)
        else:
            entries.append(_entry(type(found)(name, found.type, found.desc)))
            names.add(name)
    if not entries:
        cls.__doc__ = doc
        return nowhere
    section = "Parameters\n----------\n" + "\n".join(entries) + "\n"
    sections = list(_SECTION.finditer(doc))
    params = next((m for m in sections if m.group(1) == "Parameters"), None)
    if params is not None:
        after = next((m.start() for m in sections if m.start() > params.start()), len(doc))
        doc = doc[: params.start()] + section + ("\n" + doc[after:] if after < len(doc) else "")
    elif _AS_FOR.search(doc):
        doc = _AS_FOR.sub(lambda _: section, doc, count=1)
    else:
        first = sections[0].start() if sections else len(doc)
        doc = doc[:first].rstrip("\n") + "\n\n" + section + ("\n" + doc[first:] if first < len(doc) else "")
    cls.__doc__ = doc
    return nowhere


def public_classes() -> list[type]:
    """The classes whose every parameter the API pages document: the rules, the layers and the projections, and
    the base classes a user extends."""
    import nnlite
    from nnlite import layers, projections, rules
    from nnlite.rules.direct import DirectRule

    seen: dict[int, type] = {}
    for module in (rules, layers, projections):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) and obj.__module__.startswith("nnlite"):
                seen.setdefault(id(obj), obj)
    seen.setdefault(id(DirectRule), DirectRule)
    del nnlite
    return list(seen.values())
