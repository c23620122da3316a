from django.conf import settings


def branding(request):
    return {
        "organization_name": settings.ORGANIZATION_NAME,
        "postal_address": settings.POSTAL_ADDRESS,
    }
