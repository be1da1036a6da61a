from facturador.core import tenancy


def issuer(request):
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {
        "current_issuer": getattr(request, "issuer", None),
        "current_membership": getattr(request, "membership", None),
        "my_memberships": tenancy.memberships_of(request.user),
    }
