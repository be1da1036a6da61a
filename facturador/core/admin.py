from django.contrib import admin

from facturador.core.models import AuditEntry, Branch, Certificate, Issuer, Job, Membership, NumberingRange


@admin.register(Issuer)
class IssuerAdmin(admin.ModelAdmin):
    list_display = ["legal_name", "country", "tax_id", "check_digit"]
    search_fields = ["legal_name", "tax_id"]


admin.site.register(Branch)
admin.site.register(Membership)


@admin.register(Certificate)
class CertificateAdmin(admin.ModelAdmin):
    list_display = ["issuer", "kind", "serial_number", "not_after", "active"]
    exclude = ["key_material", "password"]
    readonly_fields = ["certificate_pem"]


@admin.register(NumberingRange)
class NumberingRangeAdmin(admin.ModelAdmin):
    list_display = ["issuer", "document_type", "prefix", "range_from", "range_to", "next_number", "environment"]
    exclude = ["technical_key"]


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "issuer", "kind", "status", "done", "total", "created_at"]
    list_filter = ["status", "kind"]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "issuer", "user", "action", "summary", "channel"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
