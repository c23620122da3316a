"""Settings for the benchmark's django-post-office side (and the benchmark process itself).

prefcenter's own settings plus the `post_office` app, whose default backend is the same
transport the campaign workers use (MARKETING_EMAIL_BACKEND: Anymail's Postmark backend
pointed at the local fake, or Django's SMTP backend pointed at the local sink), so both sides
of the comparison hand their mail to the same place. post_office keeps its own defaults
(batch size, threads per process, logging): what a Django user would get.
"""

from prefcenter.settings import *  # noqa: F403
from prefcenter.settings import INSTALLED_APPS, MARKETING_EMAIL_BACKEND

INSTALLED_APPS = [*INSTALLED_APPS, "post_office"]
POST_OFFICE = {"BACKENDS": {"default": MARKETING_EMAIL_BACKEND}}
