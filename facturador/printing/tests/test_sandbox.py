"""Untrusted Typst templates (issue 13): no package downloads, time and memory limits."""

from __future__ import annotations

import time

import pytest

from facturador.printing import render
from facturador.printing.render import TemplateError, render_pdf, render_pdf_sandboxed


@pytest.mark.parametrize("source", [
    '#import ("@" + "preview/cetz:0.3.1"): *\nHola',
    '#let p = "@" + "preview/cetz:0.3.1"\n#import p: *\nHola',
    '#let p = "@" + "preview/cetz:0.3.1"\n#{ import p }',
    '#include ("@" + "preview/x:0.1.0/main.typ")',
])
def test_computed_package_import_is_refused_before_compiling(source):
    # The literal-"@" check was bypassed by string concatenation: Typst then tried to download.
    with pytest.raises(TemplateError) as ei:
        render_pdf(source, {})
    assert "solo admite una ruta" in ei.value.message_es
    assert "download" not in ei.value.message_es


def test_literal_relative_import_still_works():
    pdf = render_pdf('#import "util.typ": saludo\n#saludo', {}, assets={"util.typ": b'#let saludo = [Hola]'})
    assert pdf.startswith(b"%PDF")


def test_sandboxed_render_matches_and_returns_a_pdf():
    pdf = render_pdf_sandboxed('#let data = json(bytes(sys.inputs.data))\nTotal: #data.total', {"total": "10"})
    assert pdf.startswith(b"%PDF")


def test_sandboxed_compile_errors_keep_their_location():
    with pytest.raises(TemplateError) as ei:
        render_pdf_sandboxed("Hola\n#variable_que_no_existe", {})
    assert ei.value.line == 2 and "variable desconocida" in ei.value.message_es


def test_sandboxed_render_is_killed_after_the_timeout():
    loop = "#for i in range(100000) { for j in range(100000) { } }"
    start = time.monotonic()
    with pytest.raises(TemplateError) as ei:
        render_pdf(loop, {}, timeout=2)
    assert time.monotonic() - start < 6
    assert ei.value.code == "template_timeout" and "tardó más de 2 s" in ei.value.message_es


def test_sandboxed_render_memory_cap():
    with pytest.raises(TemplateError) as ei:
        render_pdf_sandboxed("#let a = range(200000000)\n#a.len()", {}, memory_limit=400 * 2**20, timeout=20)
    assert ei.value.code == "template_memory"


def test_sandboxed_render_cannot_reach_the_network(monkeypatch):
    # Even a package import the static check missed only meets a closed local port.
    monkeypatch.setattr(render, "check_template_source", lambda source: None)
    start = time.monotonic()
    with pytest.raises(TemplateError) as ei:
        render_pdf_sandboxed('#import "@preview/cetz:0.3.1": *\nHola', {}, timeout=20)
    assert time.monotonic() - start < 10
    assert "127.0.0.1" in ei.value.typst_message or "refused" in ei.value.typst_message.lower(), ei.value.typst_message
