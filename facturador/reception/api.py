"""API: received documents (list with the inbox's filters, detail, files, upload) and arrivals."""

from django.http import Http404, HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from facturador.core.actors import Actor
from facturador.core.rest import IssuerScopedMixin, Money
from facturador.reception import actions, services
from facturador.reception import files as received_files
from facturador.reception.models import EventSettings, Intake, ReceivedDocument, ReceptionEvent


class ReceivedDocumentSerializer(serializers.ModelSerializer):
    subtotal = Money(read_only=True)
    tax_total = Money(read_only=True)
    withholding_total = Money(read_only=True)
    total = Money(read_only=True)
    has_pdf = serializers.SerializerMethodField()
    stamp_check = serializers.CharField(read_only=True, help_text="CFDI: the TimbreFiscalDigital seal checked with "
                                        "SAT's certificate: verified, invalid, unavailable; empty otherwise.")
    dian_check = serializers.CharField(read_only=True, help_text="Colombia: DIAN's GetStatus asked on demand: valid, "
                                       "rejected, not_found; empty until asked.")
    supplier_email = serializers.CharField(read_only=True, help_text="The supplier's e-mail as the document gives it "
                                           "(empty when it gives none).")

    class Meta:
        model = ReceivedDocument
        fields = ["id", "country", "kind", "type_code", "status", "set_aside_reason", "supplier_tax_id",
                  "supplier_check_digit", "supplier_name", "supplier_email", "buyer_tax_id", "buyer_name", "series",
                  "number", "issue_date", "issue_time", "due_date", "currency", "subtotal", "tax_total",
                  "withholding_total", "total", "uuid", "uuid_scheme", "environment", "verification", "findings",
                  "dian_validation", "dian_response_code", "dian_rules", "dian_state", "sat_state", "sat_cancellable",
                  "sat_cancellation_status", "stamp_check", "dian_check", "dian_check_message", "dian_checked_at", "source", "intake", "received_at", "arrivals", "has_pdf"]
        read_only_fields = fields

    def get_has_pdf(self, obj) -> bool:
        return obj.has_pdf


class IntakeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Intake
        fields = ["id", "source", "status", "original_name", "size", "message_id", "mail_from", "subject", "documents",
                  "duplicates", "set_aside", "errors", "error_code", "error_message", "results", "received_at",
                  "processed_at"]
        read_only_fields = fields


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="AttachedDocument xml/zip, CFDI xml or an email .eml")


FILTERS = ("supplier", "state", "country", "date_from", "date_to", "q")


class ReceivedDocumentViewSet(IssuerScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                              viewsets.GenericViewSet):
    """Suppliers' documents received by the issuer. POST a file (multipart, field `file`) to receive it."""

    queryset = ReceivedDocument.objects.all()
    serializer_class = ReceivedDocumentSerializer
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(parameters=[OpenApiParameter(name, str, required=False) for name in FILTERS])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        if self.action == "list":
            p = self.request.query_params
            values = {k: p.get(k) for k in FILTERS if p.get(k)}
            for name in ("date_from", "date_to"):
                if name in values:
                    values[name] = services.clean_date(values[name], field=name)
            return services.filter_documents(self.issuer, **values)
        return super().get_queryset()

    @extend_schema(request={"multipart/form-data": UploadSerializer}, responses={201: IntakeSerializer})
    def create(self, request, issuer_pk=None):
        s = UploadSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        intake = actions.import_file(self.issuer, Actor.from_request(request), upload=s.validated_data["file"])
        return Response(IntakeSerializer(intake).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: OpenApiResponse(description="file")})
    @action(detail=True, methods=["get"], url_path=r"files/(?P<what>(?:xml|respuesta|pdf|contenedor))")
    def files(self, request, issuer_pk=None, pk=None, what=None):
        content, filename, mime = received_files.download(self.get_object(), what)
        response = HttpResponse(content, content_type=mime)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @extend_schema(request=None, responses={200: ReceivedDocumentSerializer})
    @action(detail=True, methods=["post"], url_path="stamp-check")
    def stamp_check(self, request, issuer_pk=None, pk=None):
        """Verify a received CFDI's stamp (TimbreFiscalDigital) again with SAT's certificate, e.g. after SAT's
        certificate repository was unreachable when it arrived; the answer is in stamp_check and findings."""
        doc = actions.recheck_stamp(self.issuer, Actor.from_request(request), document=self.get_object())
        return Response(ReceivedDocumentSerializer(doc).data)

    @extend_schema(request=None, responses={200: ReceivedDocumentSerializer})
    @action(detail=True, methods=["post"], url_path="dian-status")
    def dian_status(self, request, issuer_pk=None, pk=None):
        """Ask DIAN now (GetStatus by the CUFE/CUDE) whether a received Colombian document is valid; the answer is
        in dian_check (valid, rejected, not_found), dian_check_message and dian_checked_at. 503 when DIAN does not
        answer."""
        doc = actions.check_dian_status(self.issuer, Actor.from_request(request), document=self.get_object())
        return Response(ReceivedDocumentSerializer(doc).data)


class IntakeViewSet(IssuerScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Every arrival (file, email) and what became of each document in it."""

    queryset = Intake.objects.all()
    serializer_class = IntakeSerializer

    @extend_schema(request=None, responses={200: IntakeSerializer})
    @action(detail=True, methods=["post"])
    def reprocess(self, request, issuer_pk=None, pk=None):
        """Read a failed arrival again from its stored copy (documents already filed count as duplicates)."""
        intake = actions.reprocess_intake(self.issuer, Actor.from_request(request), intake_id=pk)
        return Response(IntakeSerializer(intake).data)


# --- DIAN events (RADIAN) and SAT status -----------------------------------------------------------------

class ReceptionEventSerializer(serializers.ModelSerializer):
    description = serializers.CharField(source="get_code_display", read_only=True)
    claim_reason = serializers.CharField(read_only=True, help_text="031 (reclamo) only: DIAN's claim reason 01-04; "
                                         "empty for the other events.")

    class Meta:
        model = ReceptionEvent
        fields = ["id", "document", "own_document", "code", "description", "claim_reason", "number", "cude", "state",
                  "dian_status_code", "dian_message", "rules", "sent_at", "answered_at", "emailed_at", "email_error",
                  "job", "created_at"]
        read_only_fields = fields


class EventRequestSerializer(serializers.Serializer):
    document = serializers.IntegerField(min_value=1, max_value=10**18, help_text="id of the received invoice")
    code = serializers.ChoiceField(choices=["030", "031", "032", "033"])
    reason = serializers.ChoiceField(choices=["01", "02", "03", "04"], required=False, allow_blank=True,
                                     help_text="031 only: the claim concept")


class BulkEventSerializer(serializers.Serializer):
    documents = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=10**18), min_length=1,
                                      max_length=1000)
    action = serializers.ChoiceField(choices=["acknowledge", "receive", "accept"])


class BulkEventResultSerializer(serializers.Serializer):
    code = serializers.CharField()
    job = serializers.IntegerField()
    events = ReceptionEventSerializer(many=True)
    refused = serializers.ListField(child=serializers.DictField())


class SatStatusRequestSerializer(serializers.Serializer):
    documents = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=10**18), min_length=1,
                                      max_length=1000)


class EventSettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = EventSettings
        fields = list(actions.EVENT_SETTINGS_FIELDS)


def _received(issuer, pks):
    docs = {d.pk: d for d in ReceivedDocument.objects.filter(issuer=issuer, pk__in=pks)}
    missing = [pk for pk in pks if pk not in docs]
    if missing:
        raise Http404
    return [docs[pk] for pk in pks]


class ReceptionEventViewSet(IssuerScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                            viewsets.GenericViewSet):
    """DIAN events the issuer registered (on received invoices, and 034 on its own). POST one to register it (order
    rules are checked: 409 ``reception.event.order``...); it is sent by a job."""

    queryset = ReceptionEvent.objects.all()
    serializer_class = ReceptionEventSerializer

    @extend_schema(parameters=[OpenApiParameter("document", int, required=False,
                                                description="only the events of this received document")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        qs = super().get_queryset()
        document = self.request.query_params.get("document", "")
        if document:
            qs = qs.filter(document_id=int(document)) if document.isdigit() and len(document) <= 18 else qs.none()
        return qs

    @extend_schema(request=EventRequestSerializer, responses={201: ReceptionEventSerializer})
    def create(self, request, issuer_pk=None):
        s = EventRequestSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        doc = _received(self.issuer, [s.validated_data["document"]])[0]
        event = actions.send_event(self.issuer, Actor.from_request(request), document=doc,
                                   code=s.validated_data["code"], reason=s.validated_data.get("reason") or None)
        return Response(ReceptionEventSerializer(event).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=BulkEventSerializer, responses={201: BulkEventResultSerializer})
    @action(detail=False, methods=["post"])
    def bulk(self, request, issuer_pk=None):
        """Acusar recibo (acknowledge, 030), recibir (receive, 032) or aceptar (accept, 033) many invoices."""
        s = BulkEventSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        out = actions.send_events_bulk(self.issuer, Actor.from_request(request),
                                       documents=_received(self.issuer, s.validated_data["documents"]),
                                       action=s.validated_data["action"])
        return Response({"code": out["code"], "job": out["job"].pk, "refused": out["refused"],
                         "events": ReceptionEventSerializer(out["events"], many=True).data},
                        status=status.HTTP_201_CREATED)

    @extend_schema(request=SatStatusRequestSerializer, responses={202: OpenApiResponse(description="job id")})
    @action(detail=False, methods=["post"], url_path="sat-status")
    def sat_status(self, request, issuer_pk=None):
        """Ask SAT for the status of received CFDIs (a job; the documents then show sat_state...)."""
        s = SatStatusRequestSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        job = actions.check_sat_status_bulk(self.issuer, Actor.from_request(request),
                                            documents=_received(self.issuer, s.validated_data["documents"]))
        return Response({"job": job.pk}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(methods=["get"], responses={200: EventSettingsSerializer})
    @extend_schema(methods=["put"], request=EventSettingsSerializer, responses={200: EventSettingsSerializer})
    @action(detail=False, methods=["get", "put"], url_path="settings")
    def event_settings(self, request, issuer_pk=None):
        """Who receives goods (named in 030/032), the event prefix, e-mailing the supplier, 034 on own invoices."""
        from facturador.reception import radian

        if request.method == "PUT":
            s = EventSettingsSerializer(data=request.data, partial=True)
            s.is_valid(raise_exception=True)
            obj = actions.save_event_settings(self.issuer, Actor.from_request(request), values=dict(s.validated_data))
        else:
            obj = radian.settings_for(self.issuer)
        return Response(EventSettingsSerializer(obj).data)
