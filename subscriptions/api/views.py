"""API v1 views: parse and validate, call one service, answer. Errors are raised, never built here."""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from ..campaigns.authoring import campaign_change, campaign_create
from ..campaigns.test_sends import campaign_test_send
from ..consent.external import contact_put, subscription_put
from ..consent.implied import contact_record_signal
from ..consent.subscriptions import contact_unsubscribe_all
from ..consent.suppression import suppression_add, suppression_check
from ..consent.topics import topic_create
from ..mail.transactional import send_transactional
from ..models import Campaign, ConsentEvent, Contact, Topic
from ..models.choices import ApiScope
from ..privacy.erasure import contact_erase
from ..privacy.export import contact_export
from . import serializers as s
from .auth import ApiKeyRateThrottle, BearerKeyAuthentication, HasApiKey, HasScope, api_actor
from .errors import ApiError, UnknownTopic, exception_handler
from .parsers import DepthCappedJSONParser

MAX_ID = 2**63 - 1  # beyond a bigint no row can match; don't let the database choke on it
# A topic slug as Topic.slug (a SlugField) can hold it; anything else names no topic.
SLUG = re.compile(r"[-a-zA-Z0-9_]{1,64}")


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(s.ErrorSerializer, description=description)


COMMON_ERRORS = {
    400: _error("Invalid input or malformed JSON."),
    401: _error("Missing, invalid or revoked API key."),
    403: _error("`forbidden_scope`: the key lacks the scope this call needs."),
    429: _error("Rate limit of the API key exceeded."),
    503: _error("`database_unavailable`: try again after `Retry-After` seconds."),
}
NOT_FOUND = {404: _error("No such object.")}
NON_BLANK = {"type": "string", "minLength": 1}
PAGE_PARAMETERS = [
    OpenApiParameter("page_size", int, required=False, description="1 to 500, default 50."),
    OpenApiParameter("cursor", NON_BLANK, required=False, description="From a `next` link."),
]


def paginated(serializer_class) -> dict:
    """The schema of `{"results": [...], "next": url|null}` of `serializer_class` items."""
    name = serializer_class.__name__.removesuffix("Serializer")
    return {
        200: inline_serializer(
            f"Paginated{name}List",
            fields={
                "results": serializer_class(many=True),
                "next": serializers.URLField(allow_null=True),
            },
        )
    }


def responses(ok: dict, *extra: dict) -> dict:
    merged = {**ok, **COMMON_ERRORS}
    for more in extra:
        merged.update(more)
    return merged


class Pagination(CursorPagination):
    """`{"results": [...], "next": url|null}`, stable under inserts."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "pk"

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError(
                {"page_size": [f"Must be a whole number from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    def decode_cursor(self, request):
        if request.query_params.get(self.cursor_query_param) == "":
            raise ValidationError({"cursor": ["May not be blank."]})
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise ValidationError({"cursor": ["Invalid cursor."]}) from None
        # DRF checks the cursor's form, not its position, which goes into the query as is: a
        # crafted one ("p=abc", a NUL, 5,000 digits) made the database or int() fail (a 500).
        position = cursor.position if cursor is not None else None
        if position is not None and not _is_id(position):
            raise ValidationError({"cursor": ["Invalid cursor."]})
        return cursor

    def get_paginated_response(self, data):
        return Response({"results": data, "next": self.get_next_link()})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results", "next"],
            "properties": {
                "results": schema,
                "next": {"type": "string", "format": "uri", "nullable": True},
            },
        }


def _is_id(value: str) -> bool:
    """Whether `value` is a row id: digits only, within a bigint (every list is in pk order)."""
    return value.isascii() and value.isdigit() and len(value) <= 19 and int(value) <= MAX_ID


class ApiView(APIView):
    authentication_classes = [BearerKeyAuthentication]
    permission_classes = [HasApiKey, HasScope]
    throttle_classes = [ApiKeyRateThrottle]
    parser_classes = [DepthCappedJSONParser]
    renderer_classes = [JSONRenderer]

    # The scope a call other than GET needs (GET needs `read`), and per-method exceptions.
    scope: str = ApiScope.WRITE
    scopes: dict[str, str] = {}
    # Query parameters the view understands; any other is refused like an unknown body field.
    query_parameters: frozenset[str] = frozenset()

    def get_exception_handler(self):
        return exception_handler

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # PostgreSQL text cannot hold NUL: a query with one fails in the database (a 500).
        if any("\x00" in value for value in kwargs.values() if isinstance(value, str)):
            raise ApiError(404, "not_found", "Not found.")
        for name, values in request.query_params.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                raise ValidationError({name.replace("\x00", "") or "(empty)": ["NUL character."]})
        unknown = sorted(set(request.query_params) - self.query_parameters)
        if unknown:
            raise ValidationError(
                {name or "(empty)": ["Unknown query parameter."] for name in unknown}
            )

    def validated(self, serializer_class, data=None) -> dict:
        serializer = serializer_class(data=self.request.data if data is None else data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def paginate(self, queryset, serializer_class, ordering: str = "pk") -> Response:
        paginator = Pagination()
        paginator.ordering = ordering
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        return paginator.get_paginated_response(serializer_class(page, many=True).data)


def _pk(value: int) -> int:
    if value > MAX_ID:
        raise ApiError(404, "not_found", "Not found.")
    return value


def _contact(pk: int) -> Contact:
    """The active contact, 404 once erased: an erased person is nobody the API can see.

    The id of a spelling merged into another contact names that contact, as its links do: an
    integration that stored the old id must still reach the person (an unsubscribe above all).
    """
    contact = Contact.objects.following_merges(
        Contact.objects.filter(pk=_pk(pk)).prefetch_related("subscriptions__topic").first()
    )
    if contact is None:
        raise ApiError(404, "not_found", "No such contact.")
    return contact


def _find_topic(slug: str) -> Topic | None:
    # Only slugs reach the query: PostgreSQL text cannot hold a NUL.
    return Topic.objects.filter(slug=slug).first() if SLUG.fullmatch(slug) else None


def _topic(slug: str) -> Topic:
    """The topic in the URL path; 404 `unknown_topic`."""
    topic = _find_topic(slug)
    if topic is None:
        raise UnknownTopic(slug)
    return topic


def _body_topic(slug: str, field: str) -> Topic:
    """A topic named in the request body: an unknown one is bad input (400), not a missing
    resource (the 404 of a topic in the URL path)."""
    topic = _find_topic(slug)
    if topic is None:
        raise ApiError(400, "unknown_topic", f"{field}: There is no topic {slug!r}.")
    return topic


def _campaign(pk: int) -> Campaign:
    campaign = Campaign.objects.select_related("topic").filter(pk=_pk(pk)).first()
    if campaign is None:
        raise ApiError(404, "not_found", "No such campaign.")
    return campaign


def _contact_answer(contact: Contact, status_code: int = 200) -> Response:
    contact = Contact.objects.prefetch_related("subscriptions__topic").get(pk=contact.pk)
    return Response(s.ContactSerializer(contact).data, status=status_code)


# --- topics ---------------------------------------------------------------------------------


class TopicsView(ApiView):
    query_parameters = frozenset({"page_size", "cursor"})

    @extend_schema(
        summary="List topics",
        operation_id="topics_list",
        parameters=PAGE_PARAMETERS,
        responses=responses(paginated(s.TopicSerializer)),
    )
    def get(self, request):
        return self.paginate(Topic.objects.all(), s.TopicSerializer)

    @extend_schema(
        summary="Create a topic",
        request=s.TopicSerializer,
        responses=responses({201: s.TopicSerializer}, {409: _error("The slug is taken.")}),
    )
    def post(self, request):
        data = self.validated(s.TopicSerializer)
        topic = topic_create(
            slug=data["slug"],
            name=data["name"],
            description=data["description"],
            channel=data["channel"],
            frequencies=data.get("frequencies", []),
        )
        return Response(s.TopicSerializer(topic).data, status=status.HTTP_201_CREATED)


# --- contacts -------------------------------------------------------------------------------


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
            {400: _error("Invalid input or malformed JSON; `unknown_topic`: a slug in `topics`.")},
            {
                409: _error(
                    "`external_id_taken`: the external_id belongs to another contact; "
                    "`erased_requires_double_opt_in`: the address was erased at its owner's "
                    "request."
                )
            },
            {422: _error("`suppressed`: the address cannot receive a confirmation.")},
        ),
    )
    def post(self, request):
        data = self.validated(s.ContactInSerializer)
        topics = [_body_topic(slug, "topics") for slug in dict.fromkeys(data.pop("topics", []))]
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
        return Response(s.ContactSerializer(_contact(pk)).data)

    @extend_schema(
        summary="Erase a contact",
        description="Personal data removed; the address survives only as a suppression hash.",
        responses=responses({204: None}, NOT_FOUND),
    )
    def delete(self, request, pk: int):
        contact_erase(contact=_contact(pk), by=api_actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ContactExportView(ApiView):
    scope = ApiScope.PRIVACY

    @extend_schema(
        summary="Export a contact's data",
        request=None,
        responses=responses({200: dict}, NOT_FOUND),
    )
    def post(self, request, pk: int):
        return Response(contact_export(contact=_contact(pk)))


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
            {404: _error("No such contact, or `unknown_topic`.")},
            {409: _error("`resubscribe_requires_confirmation`.")},
            {422: _error("`suppressed`: the address cannot receive mail.")},
        ),
    )
    def put(self, request, pk: int, topic: str):
        contact, topic = _contact(pk), _topic(topic)
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
        contact = _contact(pk)
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
        contact = _contact(pk)
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
        contact = _contact(pk)
        events = ConsentEvent.objects.filter(contact=contact).select_related("topic")
        return self.paginate(events, s.ConsentEventSerializer)


# --- suppressions ---------------------------------------------------------------------------


class SuppressionsView(ApiView):
    @extend_schema(
        summary="Suppress an address",
        request=s.SuppressionInSerializer,
        responses=responses({201: s.SuppressionOutSerializer}),
    )
    def post(self, request):
        data = self.validated(s.SuppressionInSerializer)
        suppression, _created = suppression_add(
            email=data["email"],
            reason=data["reason"],
            scope=data.get("scope"),
            note=data["note"],
            by=api_actor(request),
        )
        return Response(s.SuppressionOutSerializer(suppression).data, status=201)


class SuppressionCheckView(ApiView):
    query_parameters = frozenset({"email"})

    @extend_schema(
        summary="Is an address suppressed?",
        parameters=[OpenApiParameter("email", NON_BLANK, required=True)],
        responses=responses({200: s.SuppressionCheckSerializer}),
    )
    def get(self, request):
        data = self.validated(s.EmailQuerySerializer, data=request.query_params.dict())
        result = suppression_check(email=data["email"])
        return Response(s.SuppressionCheckSerializer(result).data)


# --- transactional --------------------------------------------------------------------------


class TransactionalView(ApiView):
    scope = ApiScope.SEND

    @extend_schema(
        summary="Send a transactional message",
        description="Refused only for an address suppressed with scope `all` (422 `suppressed`).",
        request=s.TransactionalInSerializer,
        responses=responses(
            {202: s.TransactionalOutSerializer},
            {422: _error("`suppressed`: the address cannot receive mail.")},
        ),
    )
    def post(self, request):
        data = self.validated(s.TransactionalInSerializer)
        message = send_transactional(
            to=data["to"],
            subject=data["subject"],
            text=data["text_body"],
            html=data.get("html_body") or None,
            kind="api",
        )
        return Response({"id": message.pk, "status": message.status}, status=202)


# --- campaigns ------------------------------------------------------------------------------


class CampaignsView(ApiView):
    scope = ApiScope.SEND
    query_parameters = frozenset({"page_size", "cursor"})

    @extend_schema(
        summary="List campaigns",
        operation_id="campaigns_list",
        parameters=PAGE_PARAMETERS,
        responses=responses(paginated(s.CampaignSerializer)),
    )
    def get(self, request):
        return self.paginate(Campaign.objects.select_related("topic"), s.CampaignSerializer)

    @extend_schema(
        summary="Create a campaign",
        description="A draft, or scheduled when `scheduled_at` is given.",
        request=s.CampaignInSerializer,
        responses=responses({201: s.CampaignSerializer}),
    )
    def post(self, request):
        data = self.validated(s.CampaignInSerializer)
        topic = _body_topic(data.pop("topic"), "topic")
        campaign = campaign_create(topic=topic, **data)
        return Response(s.CampaignSerializer(campaign).data, status=201)


class CampaignView(ApiView):
    scope = ApiScope.SEND

    @extend_schema(
        summary="Get a campaign with its progress",
        responses=responses({200: s.CampaignSerializer}, NOT_FOUND),
    )
    def get(self, request, pk: int):
        return Response(s.CampaignSerializer(_campaign(pk)).data)


class CampaignActionView(ApiView):
    scope = ApiScope.SEND
    action: str = ""

    @extend_schema(
        request=None,
        responses=responses(
            {202: s.CampaignSerializer},
            NOT_FOUND,
            {409: _error("`invalid_state`: not possible in the campaign's status.")},
        ),
    )
    def post(self, request, pk: int):
        campaign = _campaign(pk)
        campaign = campaign_change(campaign=campaign, action=self.action)
        return Response(s.CampaignSerializer(campaign).data, status=202)


class CampaignTestView(ApiView):
    scope = ApiScope.SEND

    @extend_schema(
        summary="Send a test of a campaign",
        description=(
            "At most 20 addresses. Each gets the campaign's content with a subject starting "
            "`[Test] ` and inert unsubscribe/preference links and headers (their pages say it "
            "was a test; their POSTs change nothing). Suppressed addresses are refused, not "
            "mailed. Every test send is logged."
        ),
        request=s.CampaignTestInSerializer,
        responses=responses(
            {202: s.CampaignTestOutSerializer},
            NOT_FOUND,
            {
                503: _error(
                    "`mail_unavailable`: the mail server did not take the test; "
                    "`database_unavailable`. Try again after `Retry-After` seconds."
                )
            },
        ),
    )
    def post(self, request, pk: int):
        campaign = _campaign(pk)
        data = self.validated(s.CampaignTestInSerializer)
        result = campaign_test_send(
            campaign=campaign, recipients=data["to"], by=f"api:{request.auth.name}"
        )
        return Response({"sent": len(result.sent), "refused": result.refused}, status=202)
