from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SubscriptionsConfig(AppConfig):
    name = "subscriptions"
    verbose_name = _("Subscriptions")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from anymail.signals import tracking

        # Imported once the app registry is ready: the receiver's module imports the models.
        from .feedback.webhooks import handle_tracking

        tracking.connect(
            handle_tracking, dispatch_uid="subscriptions.feedback.webhooks.handle_tracking"
        )
