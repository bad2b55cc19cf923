from django.conf import settings


def product(request):
    """Names every page shows in its header."""
    return {"organisation_name": settings.ORGANISATION_NAME}
