"""Sphinx configuration of the kpbottleneck docs (``python -m sphinx -W -b html docs docs/_build/html``).

Sphinx with MyST (the pages are Markdown, as README and CHANGELOG are), autodoc and napoleon (the docstrings
are Google style with Sphinx roles). At build time two things are generated under ``docs/_generated/``
(not committed): an API page per module of both packages, so that every public name is in the reference
without a hand-kept list, and the tables of the results and performance pages, from the benchmarks' result
files (``benchmarks/result_files.py``).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(Path(__file__).resolve().parent)]

import tables  # noqa: E402  (docs/tables.py)

import kpbottleneck  # noqa: E402

project = "kpbottleneck"
author = "the kpbottleneck developers"
copyright = f"2026, {author}"
release = version = kpbottleneck.__version__
extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = f"kpbottleneck {release}"

autodoc_default_options = {"show-inheritance": True, "member-order": "bysource"}
autodoc_inherit_docstrings = False  # (Lightning's own docstrings are Lightning's docs, not ours)
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
napoleon_google_docstring, napoleon_numpy_docstring = True, False

# A broken cross-reference to our own names fails the build; other libraries' names are not linked (the
# build runs offline, with no intersphinx inventories).
nitpicky = True
EXTERNAL = (
    "torch", "pytorch_lightning", "lightning_fabric", "lightning", "torchmetrics", "torchvision", "kornia",
    "albumentations", "numpy", "np", "PIL", "av", "wandb", "jsonargparse", "typing", "typing_extensions",
    "collections", "pathlib", "os", "enum", "abc", "argparse", "datetime", "dataclasses", "io", "types",
)  # fmt: skip
nitpick_ignore_regex = [
    (r"py:.*", rf"({'|'.join(EXTERNAL)})(\..*)?"),
    (r"py:.*", r"(Tensor|nn\.Module|Module|Dataset|DataLoader|Trainer|LightningModule|Callback|Metric|Path)"),
    (r"py:.*", r"(pl|nn|F)\..*"),
    (r"py:.*", r"(NoneType|Any|Optional|Callable|Sequence|Mapping|Iterator|Iterable|Literal|Self|T)"),
    (r"py:.*", r"(optional|callable|default .*)"),
]

#: Modules left out of the API reference: the program entry point and modules kept as deprecated aliases
#: only (their names are documented where they now live).
SKIPPED = {"kpbottleneck.__main__", "kpbottleneck.augmentation", "datamodules.augment"}


def api_pages(out: Path) -> list[str]:
    """An ``automodule`` page per module of both packages under ``out``; returns the module names."""
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for package in ("kpbottleneck", "datamodules"):
        module = importlib.import_module(package)
        names.append(package)
        names += [info.name for info in pkgutil.walk_packages(module.__path__, package + ".")]
    names = [name for name in names if name not in SKIPPED]
    for name in names:
        # a package's page has its docstring only: its names are documented in their own modules
        options = "" if hasattr(importlib.import_module(name), "__path__") else "   :members:\n"
        text = f"# `{name}`\n\n```{{eval-rst}}\n.. automodule:: {name}\n{options}```\n"
        page = out / f"{name}.md"
        if not page.exists() or page.read_text() != text:  # (unchanged pages keep Sphinx's cache)
            page.write_text(text)
    index = "# API reference\n\nEvery module of both packages.\n\n```{toctree}\n:maxdepth: 1\n\n"
    index += "".join(f"{name}\n" for name in names) + "```\n"
    (out / "index.md").write_text(index)
    return names


def _generate(app: object) -> None:
    generated = Path(__file__).resolve().parent / "_generated"
    _index_names(api_pages(generated / "api"))
    tables.write_all(generated)


def _resolve(path: str) -> tuple[str, object] | None:
    """The module of ours and the object that the dotted ``path`` names, or ``None``."""
    parts = path.split(".")
    for end in range(len(parts), 0, -1):
        module = ".".join(parts[:end])
        if not module.startswith(("kpbottleneck", "datamodules")):
            continue
        try:
            obj: object = importlib.import_module(module)
        except ImportError:
            continue
        for part in parts[end:]:
            obj = getattr(obj, part, _MISSING)
            if obj is _MISSING:
                return None
        return module, obj
    return None


def _our_object(target: str, module: str | None, cls: str | None) -> tuple[str, object] | None:
    """The object a reference names, looked up as Python would: ``pkg.Name`` (a re-export), ``name`` in the
    referring class or module, or a name defined in one module of ours."""
    candidates = [target]
    if module:
        candidates += [f"{module}.{cls}.{target}"] if cls else []
        candidates.append(f"{module}.{target}")
    candidates += [f"{defining}.{target}" for defining in _MODULES.get(target.split(".")[0], ())]
    for candidate in candidates:
        found = _resolve(candidate)
        if found is not None:
            return found
    return None


_MISSING = object()
_MODULES: dict[str, list[str]] = {}  # a top-level name → the modules of ours that define it


def _index_names(names: list[str]) -> None:
    _MODULES.clear()  # (a second build in the same process indexes afresh)
    for name in names:
        for attribute, value in vars(importlib.import_module(name)).items():
            if getattr(value, "__module__", name) == name and not attribute.startswith("_"):
                _MODULES.setdefault(attribute, []).append(name)


def _our_reference(app, env, node, contnode):  # type: ignore[no-untyped-def]
    """Resolve a reference to one of our names that Sphinx did not find: a re-export
    (``kpbottleneck.KeypointGAN``) or a short name (``KeypointGAN``) links to where the object is documented;
    a name of ours that has no page of its own (a type alias, an inherited Lightning hook) is set as code. A
    name that exists nowhere in the packages stays a broken reference, which fails the build."""
    if node.get("refdomain") != "py":
        return None
    found = _our_object(node.get("reftarget", ""), node.get("py:module"), node.get("py:class"))
    if found is None:
        return None
    module, obj = found
    real = f"{getattr(obj, '__module__', module)}.{getattr(obj, '__qualname__', '')}".rstrip(".")
    domain = env.get_domain("py")
    for kind in ("obj", node["reftype"]):
        resolved = domain.resolve_xref(env, node["refdoc"], app.builder, kind, real, node, contnode)
        if resolved is not None:
            return resolved
    return contnode


def setup(app):  # type: ignore[no-untyped-def]
    app.connect("builder-inited", _generate)
    app.connect("missing-reference", _our_reference)
