"""The shape of the code: layers point one way (libraries <- core <- apps' services/actions <- channels)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2]
PURE_LIBRARIES = {"dian", "cfdi", "tabular", "printing", "payments", "taxid"}
CHANNEL_MODULES = ("views", "api", "management")  # plus views_<name>.py
URL_CONFIGURATION = {"urls.py", "api_urls.py"}
ENTRY_POINTS = {"settings.py", "wsgi.py", "asgi.py", "cli.py", "__main__.py"}  # the project's own, at the top


def product_modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if "tests" in rel.parts or "migrations" in rel.parts:
            continue
        yield rel, ast.parse(path.read_text(encoding="utf-8"))


def imported_modules(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def is_channel(module: str) -> bool:
    parts = module.split(".")
    return parts[0] == "facturador" and len(parts) >= 3 and (
        parts[2] in CHANNEL_MODULES or parts[2].startswith("views_"))


@pytest.mark.parametrize("rel,tree", list(product_modules()), ids=lambda v: str(v) if isinstance(v, Path) else "")
def test_only_url_configuration_imports_channels(rel, tree):
    if rel.name in URL_CONFIGURATION or (len(rel.parts) == 1 and rel.name in ENTRY_POINTS):
        return
    own_app = rel.parts[0]
    this_is_a_channel = is_channel(".".join(("facturador", *rel.with_suffix("").parts)))
    # a channel may use its own app's channel helpers (a command its sub-module, a view its sibling views)
    offending = sorted({m for m in imported_modules(tree) if is_channel(m)
                        and not (this_is_a_channel and m.split(".")[1] == own_app)})
    assert not offending, f"{rel} imports channel modules {offending}"


@pytest.mark.parametrize("rel,tree", [(r, t) for r, t in product_modules() if r.parts[0].removesuffix(".py")
                                      in PURE_LIBRARIES], ids=lambda v: str(v) if isinstance(v, Path) else "")
def test_pure_libraries_import_no_django_and_no_app(rel, tree):
    offending = sorted({m for m in imported_modules(tree) if m.split(".")[0] in ("django", "rest_framework")
                        or (m.startswith("facturador.") and m.split(".")[1] not in PURE_LIBRARIES)})
    assert not offending, f"{rel} (a pure library) imports {offending}"


def test_environment_is_read_only_in_settings_and_entry_points():
    def reads_environment(tree) -> bool:
        for n in ast.walk(tree):
            if isinstance(n, ast.Attribute) and n.attr in ("environ", "getenv", "environb") \
                    and isinstance(n.value, ast.Name) and n.value.id == "os":
                return True
            if isinstance(n, ast.ImportFrom) and n.module == "os" and \
                    {a.name for a in n.names} & {"environ", "getenv", "environb"}:
                return True
        return False

    readers = sorted(str(rel) for rel, tree in product_modules() if reads_environment(tree))
    # settings.py reads configuration; wsgi/asgi/cli.py bootstrap DJANGO_SETTINGS_MODULE; core/cli.py reads a
    # secret the user names on the command line (--password-env NAME), which is input, not configuration.
    assert readers == ["asgi.py", "cli.py", "core/cli.py", "settings.py", "wsgi.py"]


def test_no_import_cycles_between_product_modules():
    """Module-level imports form no cycle (a cycle means two modules each need the other: one is misplaced)."""
    names = {}
    for rel, tree in product_modules():
        name = ".".join(("facturador", *rel.with_suffix("").parts)).removesuffix(".__init__")
        names[name] = tree
    graph = {}
    for name, tree in names.items():
        deps = set()
        for node in tree.body:
            for sub in ast.walk(node) if isinstance(node, (ast.If, ast.Try)) else [node]:
                if isinstance(sub, ast.ImportFrom) and sub.module and sub.level == 0:
                    deps |= {m for m in (f"{sub.module}.{a.name}" for a in sub.names) if m in names}
                    deps |= {sub.module} & set(names)
                elif isinstance(sub, ast.Import):
                    deps |= {a.name for a in sub.names} & set(names)
        graph[name] = deps - {name}

    def reaches(start, goal, seen):
        return any(dep == goal or (dep not in seen and not seen.add(dep) and reaches(dep, goal, seen))
                   for dep in graph[start])

    cycles = sorted(name for name in graph if reaches(name, name, set()))
    assert not cycles, f"modules in an import cycle: {cycles}"
