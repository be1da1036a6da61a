"""Compile the message catalogues (``locale/<lang>/LC_MESSAGES/*.po``) into ``.mo`` files, in pure Python.

Django's ``compilemessages`` needs GNU gettext's ``msgfmt``, which a fresh machine may lack; this does the same
with the standard library (the logic of CPython's ``Tools/i18n/msgfmt.py``): fuzzy and untranslated entries are
left out, contexts (``msgctxt``) and plural forms are kept. The output is deterministic, so the committed
``.mo`` files are exactly what this module produces from the committed ``.po`` files (a test checks it).

    python -m facturador.core.catalogs            # compile the .po files newer than their .mo
    python -m facturador.core.catalogs --all      # compile every .po
    python -m facturador.core.catalogs --check    # exit 1 when a .mo is missing or differs from its .po

Translators edit the ``.po`` files (``django-admin makemessages -l es -l en`` in ``facturador/`` extracts new
strings; it needs GNU gettext, a development tool only) and run this module.
"""

from __future__ import annotations

import ast
import struct
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # facturador/


class CatalogError(ValueError):
    """The .po file cannot be parsed."""


def parse_po(text: str) -> dict[str, str]:
    """The translated entries of a .po file as the .mo file keys them: ``msgid`` (``ctxt\\x04msgid`` with a
    context, ``msgid\\0msgid_plural`` for plurals) → ``msgstr`` (plural forms joined by ``\\0``). The header
    (empty msgid) is kept; fuzzy entries and entries without translation are not."""
    messages: dict[str, str] = {}
    entry: dict = {}
    section = None
    fuzzy = False

    def flush():
        nonlocal entry, fuzzy, section
        if "msgid" in entry:
            msgid = entry["msgid"]
            if "msgid_plural" in entry:
                forms = entry.get("msgstr_plural", {})
                strings = [forms[i] for i in sorted(forms)]
                key, value = msgid + "\0" + entry["msgid_plural"], "\0".join(strings)
                translated = any(strings)
            else:
                key, value = msgid, entry.get("msgstr", "")
                translated = bool(value)
            if "msgctxt" in entry:
                key = entry["msgctxt"] + "\x04" + key
            if translated and (not fuzzy or not msgid):
                messages[key] = value
        entry, fuzzy, section = {}, False, None

    def in_msgstr():
        return section == "msgstr" or isinstance(section, tuple)

    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if line.startswith("#,") and "fuzzy" in line:
                if "msgid" in entry and in_msgstr():
                    flush()
                fuzzy = True
            continue
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            keyword, rest = None, line
        elif keyword in ("msgctxt", "msgid") and in_msgstr():
            flush()  # a new entry begins
        if keyword is not None:
            section = keyword
            if keyword.startswith("msgstr["):
                section = ("msgstr_plural", int(keyword[7:-1]))
        try:
            value = ast.literal_eval(rest.strip()) if rest.strip() else ""
        except (SyntaxError, ValueError) as exc:
            raise CatalogError(f"line {number}: not a quoted string: {raw!r}") from exc
        if not isinstance(value, str):
            raise CatalogError(f"line {number}: not a quoted string: {raw!r}")
        if isinstance(section, tuple):
            forms = entry.setdefault("msgstr_plural", {})
            forms[section[1]] = forms.get(section[1], "") + value
        elif section in ("msgctxt", "msgid", "msgid_plural", "msgstr"):
            entry[section] = entry.get(section, "") + value
        else:
            raise CatalogError(f"line {number}: unexpected {raw!r}")
    flush()
    return messages


def mo_bytes(messages: dict[str, str]) -> bytes:
    """The GNU .mo file of `messages` (keys sorted, no hash table: gettext readers do not need one)."""
    keys = sorted(messages)
    ids = b""
    strs = b""
    offsets = []
    for key in keys:
        k, v = key.encode("utf-8"), messages[key].encode("utf-8")
        offsets.append((len(ids), len(k), len(strs), len(v)))
        ids += k + b"\0"
        strs += v + b"\0"
    count = len(keys)
    keystart = 7 * 4 + 16 * count
    valuestart = keystart + len(ids)
    koffsets, voffsets = [], []
    for o1, l1, o2, l2 in offsets:
        koffsets += [l1, o1 + keystart]
        voffsets += [l2, o2 + valuestart]
    return (struct.pack("Iiiiiii", 0x950412DE, 0, count, 7 * 4, 7 * 4 + count * 8, 0, 0)
            + struct.pack(f"{len(koffsets)}i", *koffsets) + struct.pack(f"{len(voffsets)}i", *voffsets)
            + ids + strs)


def compile_po(po_path: Path) -> bytes:
    return mo_bytes(parse_po(Path(po_path).read_text(encoding="utf-8")))


def po_files(root: Path = PACKAGE_DIR) -> list[Path]:
    return sorted(p for p in root.rglob("locale/*/LC_MESSAGES/*.po") if ".venv" not in p.parts)


def main(argv=None) -> int:
    args = set(sys.argv[1:] if argv is None else argv)
    stale = []
    for po in po_files():
        mo = po.with_suffix(".mo")
        if "--check" in args:
            if not mo.exists() or mo.read_bytes() != compile_po(po):
                stale.append(mo)
            continue
        if "--all" in args or not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            data = compile_po(po)
            if not mo.exists() or mo.read_bytes() != data:
                mo.write_bytes(data)
                print(f"compiled {mo.relative_to(PACKAGE_DIR.parent)}")
    for mo in stale:
        print(f"out of date: {mo.relative_to(PACKAGE_DIR.parent)} (run python -m facturador.core.catalogs)",
              file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
