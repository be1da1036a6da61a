"""The message catalogue: Spanish source strings, English as the second language, compiled .mo files."""

import gettext
import io

import pytest

from facturador.core import catalogs


def test_login_page_in_english_when_english_was_chosen(client, db):
    client.cookies["django_language"] = "en"
    html = client.get("/cuenta/ingresar/").content.decode()
    assert '<html lang="en">' in html
    assert "Log in" in html and "Forgot your password?" in html
    assert "¿Olvidó su contraseña?" not in html


def test_a_browser_set_to_english_still_gets_spanish(client, db):
    html = client.get("/cuenta/ingresar/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert "Ingresar" in html and "¿Olvidó su contraseña?" in html
    assert "Forgot your password?" not in html


def test_spanish_is_the_default(client, db):
    html = client.get("/cuenta/ingresar/").content.decode()
    assert '<html lang="es-co">' in html and "¿Olvidó su contraseña?" in html


def test_error_page_in_english(client, db, settings):
    settings.DEBUG = False
    client.cookies["django_language"] = "en"
    html = client.get("/no-existe/").content.decode()
    assert "Page not found" in html


def test_language_selector_switches_the_application_to_english_and_back(client_co):
    html = client_co.get("/").content.decode()
    assert '<html lang="es-co">' in html and "Tareas en segundo plano" in html  # the issuer's Spanish variant
    assert 'action="/idioma/setlang/"' in html
    client_co.post("/idioma/setlang/", {"language": "en", "next": "/"})
    html = client_co.get("/").content.decode()
    assert '<html lang="en">' in html
    assert "Background jobs" in html and "Recent jobs" in html and "Log out" in html
    client_co.post("/idioma/setlang/", {"language": "es", "next": "/"})
    html = client_co.get("/").content.decode()
    assert '<html lang="es-co">' in html and "Tareas recientes" in html


def test_the_committed_mo_files_are_compiled_from_the_po_files():
    assert catalogs.po_files(), "no message catalogues found"
    for po in catalogs.po_files():
        mo = po.with_suffix(".mo")
        assert mo.exists() and mo.read_bytes() == catalogs.compile_po(po), f"{mo}: run python -m facturador.core.catalogs"
    assert catalogs.main(["--check"]) == 0


def test_the_english_catalogue_translates_the_shell_and_the_login_pages():
    en = catalogs.parse_po((catalogs.PACKAGE_DIR / "locale/en/LC_MESSAGES/django.po").read_text(encoding="utf-8"))
    for msgid in ["Ingresar", "¿Olvidó su contraseña?", "Página no encontrada", "Ocurrió un error inesperado",
                  "Salir", "Tareas en segundo plano", "Recuperar contraseña", "Nueva contraseña"]:
        assert en.get(msgid), msgid


PO = r'''
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\n"

#: a.py
msgid "Hola"
msgstr "Hello"

#, fuzzy
msgid "Borrador"
msgstr "Draft"

msgid "Sin traducir"
msgstr ""

msgctxt "botón"
msgid "Abrir"
msgstr "Open"

msgid "un archivo"
msgid_plural "%(n)s archivos"
msgstr[0] "one file"
msgstr[1] "%(n)s files"

msgid ""
"línea \"uno\"\n"
"dos"
msgstr "line \"one\"\n"
"two"
'''


def test_compiler_keeps_translations_contexts_and_plurals_and_drops_fuzzy_and_empty():
    mo = gettext.GNUTranslations(io.BytesIO(catalogs.mo_bytes(catalogs.parse_po(PO))))
    assert mo.gettext("Hola") == "Hello"
    assert mo.gettext("Borrador") == "Borrador"
    assert mo.gettext("Sin traducir") == "Sin traducir"
    assert mo.pgettext("botón", "Abrir") == "Open"
    assert mo.ngettext("un archivo", "%(n)s archivos", 1) == "one file"
    assert mo.ngettext("un archivo", "%(n)s archivos", 3) == "%(n)s files"
    assert mo.gettext('línea "uno"\ndos') == 'line "one"\ntwo'


def test_compiler_reports_a_broken_line():
    with pytest.raises(catalogs.CatalogError):
        catalogs.parse_po('msgid "a"\nmsgstr no-quotes\n')


@pytest.mark.parametrize("url, english, spanish", [
    ("/facturacion/lotes/", "Billing batches", "Aún no hay lotes."),
    ("/facturacion/cartera/", "Portfolio listing", "Listado de cartera"),
    ("/envios/", "Invoice emailing", "No hay envíos registrados."),
    ("/importaciones/", "Billing data imports", "No hay importaciones en este estado."),
    ("/envios/correos-de-prueba/", "Test addresses", "Volver a los envíos"),
    ("/documentos/", "DIAN electronic documents", "No hay documentos."),
    ("/facturacion/plantillas/", "Invoice templates", "Cargar plantilla"),
    ("/habilitacion/", "Enablement as an electronic invoicer", "Habilitación como facturador electrónico"),
    ("/habilitacion/?paso=numeracion", "During the tests the DIAN uses a fixed numbering", "Durante las pruebas"),
    ("/facturacion/cuentas/", "New account", "Nueva cuenta"),
    ("/facturacion/tarifas/", "Apply tariffs", "Aplicar tarifas"),
    ("/facturacion/recaudo/", "Collections: payment files", "Archivos cargados"),
    ("/importaciones/operadores/", "New operator", "Nuevo operador"),
    ("/importaciones/plantillas/", "Map a new file", "Mapear un archivo nuevo"),
    ("/documentos/nuevo/", "New electronic document", "Firmar y enviar"),
    ("/documentos/software/", "Register software", "Registrar software"),
    ("/recepcion/", "Documents received from suppliers", "Cargar documentos"),
    ("/recepcion/llegadas/", "Document arrivals", "Aún no ha llegado nada."),
    ("/importaciones/plantillas/mapear/", "Map an operator's file", "Analizar la muestra"),
])
def test_the_manuals_pages_are_translated(client_co, url, english, spanish):
    client_co.post("/idioma/setlang/", {"language": "en", "next": "/"})
    html = client_co.get(url).content.decode()
    assert english in html and spanish not in html


def test_the_habilitacion_wizard_in_english_translates_its_form_and_state(client_co):
    client_co.post("/idioma/setlang/", {"language": "en", "next": "/"})
    html = client_co.get("/habilitacion/?paso=registro").content.decode()
    assert "Registration with the DIAN" in html and "Invoice reception email" in html
    assert "Registration pending" in html and "Pendiente de registro" not in html
