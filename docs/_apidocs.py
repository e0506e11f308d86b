"""Parameters documented once and shown everywhere: what ``docs/conf.py`` does to the docstrings before the API
pages are written (and what ``tests/test_docs_examples.py`` checks).

A parameter several classes share (the direct rules' ``projection``, ``layout``, ``seed``, ``parallel``,
``normalize``, ``error_scale``, ``bp_points``) is documented once, in the base class that takes it
(:class:`nnlite.rules.direct.DirectRule`). :func:`inherit_parameters` copies the entry of each parameter a class's
constructor takes but its own docstring does not document, word for word, from the first class of its MRO whose
docstring does, into the class's ``Parameters`` section (replacing a sentence "Parameters (...) as for X."), so
that the page of every class lists every parameter it takes. A function's entry "As for :func:`X`" is replaced by
X's entry the same way (the losses share ``logits`` and ``y``).

:class:`nnlite.config.RunConfig` takes every run option as a keyword: its parameters are the one table of run
options (:func:`nnlite.config.options`), and its page lists each with the help the command line shows
(:func:`generated_parameters`), so that the table stays the one source of both.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from numpydoc.docscrape import NumpyDocString, Parameter

#: The sentence a class used to send its reader elsewhere with; replaced by the parameters themselves.
_AS_FOR = re.compile(r"^Parameters \([^)]*\) as for\s+:class:`[^`]+`\.\s*$", re.M | re.S)
_SECTION = re.compile(r"^([A-Z][A-Za-z ]+)\n-{3,}\n", re.M)


def signature_parameters(cls: Any) -> list[str]:
    """The named parameters of ``cls``'s constructor (not ``self``, ``*args``, ``**kwargs``), or of a function; for
    a class whose keywords are a table (:func:`generated_parameters`), the table's names."""
    generated = generated_parameters(cls)
    if generated:
        return [name for name, _, _ in generated]
    try:
        sig = inspect.signature(cls.__init__ if inspect.isclass(cls) else cls)
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    params = list(sig.parameters.values())
    return [p.name for p in (params[1:] if inspect.isclass(cls) else params) if p.kind not in kinds]


def generated_parameters(cls: Any) -> list[tuple[str, str, list[str]]]:
    """``(name, type, description lines)`` of the parameters a class takes as keywords read from a table: for
    :class:`~nnlite.config.RunConfig`, one per run option (its field's type and default, its help, its flag)
    and ``rule_options``; empty for any other class."""
    from nnlite.config import RunConfig, options
    from nnlite.rules import registry

    if cls is not RunConfig:
        return []
    import dataclasses

    types = {f.name: str(f.type) for f in dataclasses.fields(RunConfig)}
    declared = {name: f"{opt.kind} or None" for name, (opt, _) in registry.option_table().items()}
    out = []
    for o in options():
        kind = types.get(o.name) or declared.get(o.name, "any")
        if o.rules:
            kind = f"{kind}, optional"
            where = f"Declared by {', '.join(o.rules)}; given only with those rules."
        else:
            kind = f"{kind}, default {o.default!r}"
            where = ""
        flag = f"Command-line flag ``{o.flag_name}``." if o.flag else "No command-line flag."
        out.append((o.name, kind, [f"{o.help.rstrip('.')}.", " ".join(x for x in (flag, where) if x)]))
    out.append(
        (
            "rule_options",
            "dict, optional",
            ["The rules' declared options by name, the same as giving each as a keyword (an unknown name is refused)."],
        )
    )
    return out


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


_AS_FOR_ENTRY = re.compile(r"^As for :(?:class|func):`~?([\w.]+)`(.*)$", re.S)


def _resolve(path: str) -> Any:
    import importlib

    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _names(entry: str) -> list[str]:
    """The names an entry's first line documents (``a, b : int`` documents ``a`` and ``b``)."""
    return entry.split("\n")[0].split(" : ")[0].split(",")


def _own_doc(obj: Any) -> str | None:
    """A class's own docstring (not a base's), or a function's."""
    return obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__


def _from_bases(cls: Any, name: str) -> Any:
    for base in getattr(cls, "__mro__", ())[1:]:
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
            found = documented(_own_doc(source)).get(n) or _from_bases(source, n)
            if found is None:
                entries.append(_entry(p))
                break
            lines = list(found.desc) + ([rest[0].upper() + rest[1:]] if rest else [])
            entries.append(_entry(type(found)(n, found.type, lines)))
            names.add(n)
    nowhere = []
    for name, kind, lines in generated_parameters(cls):
        if name not in names:
            entries.append(_entry(Parameter(name, kind, lines)))
            names.add(name)
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
    order = {name: i for i, name in enumerate(signature_parameters(cls))}
    entries.sort(key=lambda t: min(order.get(n.strip(), len(order)) for n in _names(t)))
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
    """The classes whose every parameter the API pages document: the rules, the layers and the projections, the
    base classes a user extends, and the other classes a user builds or reads: the network, the optimizers and
    the lr schedule, :class:`~nnlite.History`, :class:`~nnlite.data.Dataset`, :class:`~nnlite.config.RunConfig`
    and :class:`~nnlite.Alignment` (exceptions and the config's internal records are left out)."""
    import nnlite
    from nnlite import config, data, layers, projections, rules
    from nnlite.rules.direct import DirectRule

    seen: dict[int, type] = {}
    for module in (rules, layers, projections):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) and obj.__module__.startswith("nnlite"):
                seen.setdefault(id(obj), obj)
    seen.setdefault(id(DirectRule), DirectRule)
    for obj in (nnlite.Sequential, nnlite.SGD, nnlite.Adam, nnlite.RMSprop, nnlite.StepDecay, nnlite.History):
        seen.setdefault(id(obj), obj)
    for obj in (data.Dataset, config.RunConfig, nnlite.Alignment):
        seen.setdefault(id(obj), obj)
    return list(seen.values())


def public_functions() -> list[Any]:
    """The functions whose every parameter the API pages document the same way: the losses."""
    import nnlite

    return [
        nnlite.softmax_cross_entropy,
        nnlite.binary_cross_entropy,
        nnlite.binary_cross_entropy_sum,
        nnlite.mean_squared_error,
    ]
