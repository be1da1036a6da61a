"""Demo data of the imports app for the Colombian demo issuer (manual 001): a mobile operator with an import
template proposed from the sample consumption file (`billing.samples`, "consumo") by this app's own mapper, so the
template is always in the current template format. The sample files themselves are written to the data dir by
`billing.demo`."""

import tempfile
from pathlib import Path

OPERATOR_CODE = "MOVIL"
OPERATOR_NAME = "Operador móvil (demo)"
TEMPLATE_NAME = "Detalle de consumo"


def seed(co_issuer, mx_issuer):
    seed_operator(co_issuer)


def seed_operator(co_issuer):
    """The operator of manual 001 and its template, proposed from the sample consumption file by the imports app's
    own action (`actions.suggest_template`, the visual mapper's and `import template suggest --save`'s). Skipped
    when the operator already has a template."""
    from facturador.billing import samples
    from facturador.core.actors import Actor
    from facturador.imports import actions
    from facturador.imports.models import ImportTemplate

    if ImportTemplate.objects.filter(issuer=co_issuer, operator__code=OPERATOR_CODE).exists():
        return
    sample = samples.SAMPLES["consumo"]
    with tempfile.TemporaryDirectory(prefix="facturador-demo-") as folder:
        path = Path(folder) / sample.filename
        path.write_bytes(sample.build())
        actions.suggest_template(co_issuer, Actor.cli(), operator_code=OPERATOR_CODE, operator_name=OPERATOR_NAME,
                                 name=TEMPLATE_NAME, path=str(path), filename=path.name, save=True)
