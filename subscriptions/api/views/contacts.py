"""API v1 contacts: find, upsert, read, erase; their subscriptions, signals and ledger."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from ...consent.external import contact_put, subscription_put
from ...consent.implied import contact_record_signal
from ...consent.subscriptions import contact_unsubscribe_all
from ...models import ConsentEvent, Contact
from ...models.choices import ApiScope
from ...privacy.erasure import contact_erase
from .. import serializers as s
from ..auth import api_actor
from ..errors import ApiError
from .base import (
    NON_BLANK,
    NOT_FOUND,
    PAGE_PARAMETERS,
    ApiView,
    documented_error,
    paginated,
    responses,
)
from .lookups import body_topic, path_contact, path_topic


def _contact_answer(contact: Contact, status_code: int = 200) -> Response:
    contact = Contact.objects.prefetch_related("subscriptions__topic").get(pk=contact.pk)
    return Response(s.ContactSerializer(contact).data, status=status_code)


class ContactsView(ApiView):
    query_parameters = frozenset({"page_size", "cursor", "email", "external_id"})

    @extend_schema(
        summary="Find contacts",
        operation_id="contacts_list",
        description="Active contacts, optionally only the one with `email` (empty when unknown).",
        parameters=[
            OpenApiParameter("email", NON_BLANK, required=False),
            OpenApiParameter("external_id", NON_BLANK, required=False),
            *PAGE_PARAMETERS,
        ],
        responses=responses(paginated(s.ContactSerializer)),
    )
    def get(self, request):
        contacts = Contact.objects.active().prefetch_related("subscriptions__topic")
        blank = [name for name in ("email", "external_id") if request.query_params.get(name) == ""]
        if blank:
            raise ValidationError({name: ["May not be blank."] for name in blank})
        email = request.query_params.get("email")
        if email is not None:
            contacts = contacts.by_email(email)
        external_id = request.query_params.get("external_id")
        if external_id is not None:
            contacts = contacts.filter(external_id=external_id.replace("\x00", ""))
        return self.paginate(contacts, s.ContactSerializer)

    @extend_schema(
        summary="Create or update a contact",
        description=(
            "Upsert on the canonical address: 201 when new, 200 when it existed. With "
            "`double_opt_in` and `topics`, the person is asked by email to confirm those topics "
            "(their subscriptions are `pending` meanwhile); that is the only way to create a "
            "contact again for an address its owner had erased."
        ),
        request=s.ContactInSerializer,
        responses=responses(
            {200: s.ContactSerializer, 201: s.ContactSerializer},
            {
                400: documented_error(
                    "Invalid input or malformed JSON; `unknown_topic`: a slug in `topics`."
                )
            },
            {
                409: documented_error(
                    "`external_id_taken`: the external_id belongs to another contact; "
                    "`erased_requires_double_opt_in`: the address was erased at its owner's "
                    "request."
                )
            },
            {422: documented_error("`suppressed`: the address cannot receive a confirmation.")},
        ),
    )
    def post(self, request):
        data = self.validated(s.ContactInSerializer)
        topics = [body_topic(slug, "topics") for slug in dict.fromkeys(data.pop("topics", []))]
        double_opt_in = data.pop("double_opt_in")
        try:
            with transaction.atomic():
                contact, created = contact_put(
                    **data, topics=topics, double_opt_in=double_opt_in, by=api_actor(request)
                )
        except IntegrityError:
            raise ApiError(
                409, "external_id_taken", "Another contact has this external_id."
            ) from None
        return _contact_answer(contact, status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ContactView(ApiView):
    scopes = {"DELETE": ApiScope.PRIVACY}

    @extend_schema(
        summary="Get a contact",
        responses=responses({200: s.ContactSerializer}, NOT_FOUND),
    )
    def get(self, request, pk: int):
        return Response(s.ContactSerializer(path_contact(pk)).data)

    @extend_schema(
        summary="Erase a contact",
        description="Personal data removed; the address survives only as a suppression hash.",
        responses=responses({204: None}, NOT_FOUND),
    )
    def delete(self, request, pk: int):
        contact_erase(contact=path_contact(pk), by=api_actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ContactSubscriptionView(ApiView):
    @extend_schema(
        summary="Subscribe or unsubscribe a contact",
        description=(
            "Subscribing someone who unsubscribed or is suppressed answers 409 "
            "`resubscribe_requires_confirmation` unless `double_opt_in` is true: then a "
            "confirmation email is sent and the subscription changes when the person confirms."
        ),
        request=s.SubscriptionInSerializer,
        responses=responses(
            {200: s.SubscriptionOutSerializer},
            {404: documented_error("No such contact, or `unknown_topic`.")},
            {409: documented_error("`resubscribe_requires_confirmation`.")},
            {422: documented_error("`suppressed`: the address cannot receive mail.")},
        ),
    )
    def put(self, request, pk: int, topic: str):
        contact, topic = path_contact(pk), path_topic(topic)
        data = self.validated(s.SubscriptionInSerializer)
        if data.get("frequency") and data["frequency"] not in topic.offered_frequencies:
            offered = ", ".join(topic.offered_frequencies)
            raise ValidationError({"frequency": [f"{topic.slug} offers only: {offered}."]})
        subscription, confirmation_sent = subscription_put(
            contact=contact,
            topic=topic,
            status=data["status"],
            by=api_actor(request, evidence=data["evidence"]),
            legal_basis=data["legal_basis"],
            implied_by=data.get("implied_by", ""),
            frequency=data.get("frequency"),
            double_opt_in=data["double_opt_in"],
        )
        subscription.confirmation_sent = confirmation_sent
        return Response(s.SubscriptionOutSerializer(subscription).data)


class ContactSignalView(ApiView):
    @extend_schema(
        summary="Record a purchase or an inquiry",
        description=(
            "Renews the contact's implied (soft opt-in) consents, which otherwise lapse "
            "(RETENTION_IMPLIED_PURCHASE_DAYS / RETENTION_IMPLIED_INQUIRY_DAYS)."
        ),
        request=s.SignalInSerializer,
        responses=responses({200: s.SignalOutSerializer}, NOT_FOUND),
    )
    def post(self, request, pk: int):
        contact = path_contact(pk)
        data = self.validated(s.SignalInSerializer)
        renewed = contact_record_signal(contact=contact, kind=data["kind"], at=data.get("at"))
        return Response({"renewed": renewed})


class ContactUnsubscribeAllView(ApiView):
    @extend_schema(
        summary="Unsubscribe a contact from everything",
        description="Every topic unsubscribed and a marketing-scope suppression added.",
        request=s.EvidenceSerializer,
        responses=responses({200: s.ContactSerializer}, NOT_FOUND),
    )
    def post(self, request, pk: int):
        contact = path_contact(pk)
        data = self.validated(s.EvidenceSerializer)
        contact_unsubscribe_all(contact=contact, by=api_actor(request, evidence=data["evidence"]))
        return _contact_answer(contact)


class ContactConsentEventsView(ApiView):
    query_parameters = frozenset({"page_size", "cursor"})

    @extend_schema(
        summary="A contact's consent ledger, oldest first",
        operation_id="contacts_consent_events_list",
        parameters=PAGE_PARAMETERS,
        responses=responses(paginated(s.ConsentEventSerializer), NOT_FOUND),
    )
    def get(self, request, pk: int):
        contact = path_contact(pk)
        events = ConsentEvent.objects.filter(contact=contact).select_related("topic")
        return self.paginate(events, s.ConsentEventSerializer)
