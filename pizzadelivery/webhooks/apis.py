"""``/api/webhooks``: a caller's webhook endpoints, their attempt log, test and replay.

Restaurant staff, dispatchers and admins own endpoints; an endpoint receives the events its
owner may read (``policy.visible_events``: restaurant staff their pizzerias' orders' events,
dispatchers and admins everything). Each caller sees and edits only their own endpoints.
"""
from __future__ import annotations

import uuid

from django.urls import reverse
from drf_spectacular.utils import OpenApiCallback, OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pizzadelivery.infra.docs import AUTH_ERRORS, FORBIDDEN, NOT_AUTHENTICATED, error_example, errors, roles
from pizzadelivery.infra.errors import ApiError
from pizzadelivery.infra.fields import UUID_RE, IsoDateTimeField, parse_int_id
from pizzadelivery.infra.serializers import represent
from pizzadelivery.policy import require
from pizzadelivery.webhooks import selectors, services
from pizzadelivery.webhooks.models import Delivery, Endpoint
from pizzadelivery.webhooks.serializers import TEST_TYPE, message_schemas

WHO = roles("restaurant staff (their pizzerias' order events only), dispatchers and admins (every event), "
            "each for their own endpoints; drivers and accounts without a role get 403.")
EXAMPLE_ID = "6f1c2b9e-3d4a-4e8f-9b7c-1a2d3e4f5a6b"
EXAMPLE_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _webhook(request: Request, webhook_id: str) -> uuid.UUID:
    """The id, once the caller may manage webhooks at all (401/403 first, then 400)."""
    require(request, "pd.manage_webhooks")
    if not UUID_RE.match(webhook_id):
        raise ApiError("invalid_webhook_id", "Webhook ids are UUIDs, as POST /api/webhooks gave them.")
    return uuid.UUID(webhook_id)


def _owned(request: Request, webhook_id: str) -> Endpoint:
    endpoint = selectors.endpoint_get(owner=request.user, endpoint_id=_webhook(request, webhook_id))
    if endpoint is None:
        raise ApiError("webhook_not_found", "No webhook endpoint of yours with that id.", status_code=404)
    return endpoint


# --- serializers ------------------------------------------------------------------------------

class WebhookIn(serializers.Serializer):
    url = serializers.URLField(max_length=2000, help_text="Where to POST: http(s), reachable from the internet.")
    events = serializers.ListField(child=serializers.CharField(max_length=64), min_length=1, max_length=100,
                                   help_text='Event types to receive (e.g. `order.delivered`), or `["*"]` for all.')
    description = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class WebhookPatchIn(serializers.Serializer):
    url = serializers.URLField(max_length=2000, required=False)
    events = serializers.ListField(child=serializers.CharField(max_length=64), min_length=1, max_length=100,
                                   required=False)
    description = serializers.CharField(max_length=255, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False, help_text="`true` re-enables a disabled endpoint; "
                                                                "`false` pauses it.")


class WebhookOut(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    events = serializers.ListField(child=serializers.CharField(), source="event_types")
    active = serializers.BooleanField(help_text="False: nothing is sent (see `disabled_reason`).")
    disabled_reason = serializers.CharField(allow_blank=True, help_text="Why it was disabled: a 410 answer, "
                                                                       "5 days of failures, or its owner.")
    disabled_at = IsoDateTimeField(allow_null=True)
    failing_since = IsoDateTimeField(allow_null=True, help_text="Every attempt since then failed; after 5 days "
                                                                "the endpoint is disabled.")
    previous_secret_expires_at = IsoDateTimeField(allow_null=True, help_text="After a rotation: until then the "
                                                                             "previous secret signs too.")
    created_at = IsoDateTimeField()
    updated_at = IsoDateTimeField()


class WebhookWithSecretOut(WebhookOut):
    secret = serializers.CharField(help_text="`whsec_...`: shown only in this answer. Verify each delivery with it.")


class WebhookListOut(serializers.Serializer):
    results = WebhookOut(many=True)


class AttemptOut(serializers.Serializer):
    number = serializers.IntegerField()
    started_at = IsoDateTimeField()
    status_code = serializers.IntegerField(allow_null=True, help_text="Null: no answer (see `error`).")
    duration_ms = serializers.IntegerField()
    error = serializers.CharField(allow_blank=True)
    response_body = serializers.CharField(allow_blank=True, help_text="The first 4 KiB of the answer.")


class DeliveryOut(serializers.Serializer):
    id = serializers.IntegerField()
    event_id = serializers.UUIDField(source="message_id", help_text="The `webhook-id` header: the event's id.")
    event_type = serializers.CharField()
    seq = serializers.IntegerField(allow_null=True, help_text="The event's sequence number (null for a test).")
    attempt = serializers.IntegerField(source="attempts", help_text="Attempts made so far.")
    status_code = serializers.IntegerField(allow_null=True, help_text="The last attempt's answer.")
    duration_ms = serializers.IntegerField(allow_null=True, help_text="The last attempt's duration.")
    next_attempt_at = IsoDateTimeField(allow_null=True, help_text="When it is (re)tried; null once settled.")
    state = serializers.ChoiceField(choices=Delivery.State.choices)
    last_error = serializers.CharField(allow_blank=True)
    replay_of = serializers.IntegerField(source="replay_of_id", allow_null=True)
    created_at = IsoDateTimeField()
    delivered_at = IsoDateTimeField(allow_null=True)
    log = AttemptOut(many=True, source="attempt_log", help_text="Every attempt, oldest first.")


class DeliveryPageOut(serializers.Serializer):
    results = DeliveryOut(many=True)
    next = serializers.URLField(allow_null=True, help_text="The next page, or null on the last one.")


class DeliveryFilterIn(serializers.Serializer):
    state = serializers.ChoiceField(choices=Delivery.State.values, required=False)
    event_type = serializers.CharField(max_length=64, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=200, required=False, help_text="Page size (50).")


class NewestFirst(CursorPagination):
    ordering = ("-id",)
    page_size = 50
    max_page_size = 200
    page_size_query_param = "limit"


# --- examples -----------------------------------------------------------------------------------

ENDPOINT_EXAMPLE = {
    "id": EXAMPLE_ID, "url": "https://pos.example.com/hooks/pizzadelivery", "description": "Kitchen POS",
    "events": ["order.placed", "order.delivered"], "active": True, "disabled_reason": "", "disabled_at": None,
    "failing_since": None, "previous_secret_expires_at": None, "created_at": "2026-12-01T12:00:00+00:00",
    "updated_at": "2026-12-01T12:00:00+00:00"}
DELIVERY_EXAMPLE = {
    "id": 4182, "event_id": "0b3c9f4e-8f3a-4c1e-a5d2-7e6f5a4b3c2d", "event_type": "order.delivered", "seq": 90211,
    "attempt": 2, "status_code": 200, "duration_ms": 83, "next_attempt_at": None, "state": "delivered",
    "last_error": "", "replay_of": None, "created_at": "2026-12-01T12:30:00+00:00",
    "delivered_at": "2026-12-01T12:30:06+00:00",
    "log": [{"number": 1, "started_at": "2026-12-01T12:30:00+00:00", "status_code": 503, "duration_ms": 41,
             "error": "answered 503", "response_body": "busy"},
            {"number": 2, "started_at": "2026-12-01T12:30:05+00:00", "status_code": 200, "duration_ms": 83,
             "error": "", "response_body": "ok"}]}
NOT_FOUND = error_example(404, "webhook_not_found", "No webhook endpoint of yours with that id.")
BAD_ID = error_example(400, "invalid_webhook_id", "Webhook ids are UUIDs, as POST /api/webhooks gave them.")
ID_ERRORS = {**AUTH_ERRORS, **errors(e400="`invalid_webhook_id`: not a UUID.",
                                     e404="`webhook_not_found`: no endpoint of yours has that id.")}
SIGNATURE_DOC = (
    "Each delivery is a `POST` with a JSON body `{\"type\", \"timestamp\", \"data\"}` (`data` is the event as "
    "`GET /api/events` shows it) and the Standard Webhooks headers: `webhook-id` (the event's id, the same on "
    "every retry: deduplicate on it), `webhook-timestamp` (Unix seconds of this attempt) and `webhook-signature` "
    "(`v1,<base64 HMAC-SHA256 of \"<id>.<timestamp>.<body>\">`, several separated by spaces for a day after a "
    "secret rotation). Verify with any Standard Webhooks library, e.g. Python's "
    "`standardwebhooks.Webhook(secret).verify(body, headers)`.\n\n"
    "Answer 2xx within 10 s. Anything else, or no answer, is retried after "
    "`WEBHOOK_RETRY_SCHEDULE` (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), or after the `Retry-After` you send; "
    "`410 Gone` disables the endpoint; an endpoint whose every attempt failed for 5 days is disabled, with the "
    "reason in `disabled_reason`. Redirects are not followed. One order's events reach an endpoint in "
    "sequence order; a failing endpoint delays only itself. Private, loopback and link-local addresses are "
    "refused unless the server runs with `WEBHOOK_ALLOW_PRIVATE=1`.")


def _callbacks() -> list[OpenApiCallback]:
    """One documented callback per event type (the webhook payloads, from the event registry)."""
    return [OpenApiCallback(
        name, "{$request.body#/url}",
        extend_schema(summary=f"`{name}` webhook", description=(serializer.__doc__ or "") + "\n\n" + SIGNATURE_DOC,
                      request=serializer,
                      responses={200: OpenApiResponse(description="Any 2xx: received."),
                                 410: OpenApiResponse(description="Gone: the endpoint is disabled."),
                                 429: OpenApiResponse(description="Retried after `Retry-After`.")}))
        for name, serializer in message_schemas().items()]


# --- operations --------------------------------------------------------------------------------

class WebhookListApi(APIView):
    @extend_schema(
        operation_id="webhooks_list", tags=["webhooks"], summary="List your webhook endpoints",
        description="The caller's webhook endpoints, oldest first (secrets are never shown again)." + WHO,
        responses={200: WebhookListOut, **AUTH_ERRORS},
        examples=[OpenApiExample("endpoints", value={"results": [ENDPOINT_EXAMPLE]}, response_only=True,
                                 status_codes=["200"]), NOT_AUTHENTICATED, FORBIDDEN])
    def get(self, request: Request) -> Response:
        require(request, "pd.manage_webhooks")
        return Response(represent(WebhookListOut, {"results": selectors.endpoint_list(owner=request.user)}))

    @extend_schema(
        operation_id="webhooks_create", tags=["webhooks"], summary="Register a webhook endpoint",
        description="Start receiving signed webhooks for the given event types (or `[\"*\"]`), from now on. "
                    "The answer carries the endpoint's `secret` (`whsec_...`), **shown only this once**; "
                    "`Location` names the new endpoint. Try it with `POST /api/webhooks/{id}/test`.\n\n"
                    + SIGNATURE_DOC + WHO,
        request=WebhookIn,
        responses={201: WebhookWithSecretOut, **AUTH_ERRORS, **errors(
            e400="`invalid_input` (with `fields`), `invalid_url` (not http(s), credentials in it), "
                 "`invalid_event_type` (unknown type, or `*` with others).",
            e409="`too_many_endpoints`: at most 20 per account.")},
        examples=[
            OpenApiExample("every order delivered", request_only=True,
                           value={"url": "https://pos.example.com/hooks/pizzadelivery",
                                  "events": ["order.placed", "order.delivered"], "description": "Kitchen POS"}),
            OpenApiExample("created", response_only=True, status_codes=["201"],
                           value={**ENDPOINT_EXAMPLE, "secret": EXAMPLE_SECRET}),
            error_example(400, "invalid_event_type", "Unknown event type(s): order.eaten. Known: ..."),
            NOT_AUTHENTICATED, FORBIDDEN],
        callbacks=_callbacks())
    def post(self, request: Request) -> Response:
        require(request, "pd.manage_webhooks")
        data = WebhookIn(data=request.data)
        data.is_valid(raise_exception=True)
        value = data.validated_data
        endpoint = services.endpoint_create(owner=request.user, url=value["url"], event_types=value["events"],
                                            description=value["description"])
        return Response(represent(WebhookWithSecretOut, endpoint), status=status.HTTP_201_CREATED,
                        headers={"Location": request.build_absolute_uri(reverse("api-webhook", args=[endpoint.id]))})


class WebhookDetailApi(APIView):
    @extend_schema(
        operation_id="webhooks_retrieve", tags=["webhooks"], summary="Read a webhook endpoint",
        description="One of the caller's endpoints: its URL, event types, and whether (and why not) it is "
                    "active." + WHO,
        responses={200: WebhookOut, **ID_ERRORS},
        examples=[OpenApiExample("disabled by a 410", response_only=True, status_codes=["200"], value={
            **ENDPOINT_EXAMPLE, "active": False, "disabled_at": "2026-12-02T08:00:00+00:00",
            "disabled_reason": "The endpoint answered 410 Gone at 2026-12-02 08:00:00 UTC, so deliveries stopped. "
                               "PATCH it with {\"active\": true} to resume."}),
                  BAD_ID, NOT_FOUND, NOT_AUTHENTICATED, FORBIDDEN])
    def get(self, request: Request, webhook_id: str) -> Response:
        return Response(represent(WebhookOut, _owned(request, webhook_id)))

    @extend_schema(
        operation_id="webhooks_update", tags=["webhooks"], summary="Change a webhook endpoint",
        description="Change the URL, the event types or the description; `{\"active\": true}` re-enables a "
                    "disabled endpoint (its pending deliveries resume; events while it was disabled were not "
                    "queued for it: read them from `GET /api/events`), `{\"active\": false}` pauses it." + WHO,
        request=WebhookPatchIn,
        responses={200: WebhookOut, **ID_ERRORS, **errors(
            e400="`invalid_webhook_id`, `invalid_input`, `invalid_url`, `invalid_event_type`.")},
        examples=[OpenApiExample("re-enable", request_only=True, value={"active": True}),
                  OpenApiExample("updated", response_only=True, status_codes=["200"], value=ENDPOINT_EXAMPLE),
                  BAD_ID, NOT_FOUND, NOT_AUTHENTICATED, FORBIDDEN])
    def patch(self, request: Request, webhook_id: str) -> Response:
        pk = _webhook(request, webhook_id)
        data = WebhookPatchIn(data=request.data)
        data.is_valid(raise_exception=True)
        value = data.validated_data
        endpoint = services.endpoint_update(endpoint_id=pk, owner=request.user, url=value.get("url"),
                                            event_types=value.get("events"), description=value.get("description"),
                                            active=value.get("active"))
        return Response(represent(WebhookOut, endpoint))

    @extend_schema(
        operation_id="webhooks_destroy", tags=["webhooks"], summary="Delete a webhook endpoint",
        description="Stops every delivery to it at once and forgets its attempt log." + WHO,
        responses={204: OpenApiResponse(description="Deleted."), **ID_ERRORS},
        examples=[BAD_ID, NOT_FOUND, NOT_AUTHENTICATED, FORBIDDEN])
    def delete(self, request: Request, webhook_id: str) -> Response:
        services.endpoint_delete(endpoint_id=_webhook(request, webhook_id), owner=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateSecretApi(APIView):
    @extend_schema(
        operation_id="webhooks_rotate_secret", tags=["webhooks"], summary="Rotate an endpoint's secret",
        description="A new secret, shown only in this answer. For the next 24 hours "
                    "(`previous_secret_expires_at`) every delivery carries two signatures, one per secret, so "
                    "the receiver can switch at its own pace." + WHO,
        request=None,
        responses={200: WebhookWithSecretOut, **ID_ERRORS},
        examples=[OpenApiExample("rotated", response_only=True, status_codes=["200"], value={
            **ENDPOINT_EXAMPLE, "previous_secret_expires_at": "2026-12-02T12:00:00+00:00",
            "secret": "whsec_3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}),
                  BAD_ID, NOT_FOUND, NOT_AUTHENTICATED, FORBIDDEN])
    def post(self, request: Request, webhook_id: str) -> Response:
        endpoint = services.endpoint_rotate_secret(endpoint_id=_webhook(request, webhook_id), owner=request.user)
        return Response(represent(WebhookWithSecretOut, endpoint))


class WebhookTestApi(APIView):
    @extend_schema(
        operation_id="webhooks_test", tags=["webhooks"], summary="Send a test event",
        description=f"Queues a `{TEST_TYPE}` message, signed like any other, for this endpoint only; it goes "
                    "out within a second or so. Follow it in the attempt log (`GET .../deliveries`)." + WHO,
        request=None,
        responses={202: DeliveryOut, **ID_ERRORS, **errors(
            e409="`webhook_disabled`: re-enable the endpoint first.")},
        examples=[OpenApiExample("queued", response_only=True, status_codes=["202"], value={
            **DELIVERY_EXAMPLE, "event_type": TEST_TYPE, "seq": None, "attempt": 0, "status_code": None,
            "duration_ms": None, "state": "pending", "next_attempt_at": "2026-12-01T12:00:00+00:00",
            "delivered_at": None, "log": []}),
                  BAD_ID, NOT_FOUND, NOT_AUTHENTICATED, FORBIDDEN,
                  error_example(409, "webhook_disabled", "The endpoint is disabled: ...")])
    def post(self, request: Request, webhook_id: str) -> Response:
        delivery = services.endpoint_send_test(endpoint_id=_webhook(request, webhook_id), owner=request.user)
        return Response(represent(DeliveryOut, delivery), status=status.HTTP_202_ACCEPTED)


class WebhookDeliveriesApi(APIView):
    @extend_schema(
        operation_id="webhooks_deliveries", tags=["webhooks"], summary="The attempt log of an endpoint",
        description="Its deliveries, newest first, each with its state (`pending`, `delivered`, `failed`), the "
                    "attempts made, the last answer and when it is tried next, and every attempt in `log`. "
                    "Filter by `state` and `event_type`; pages follow `next`." + WHO,
        parameters=[DeliveryFilterIn],
        responses={200: DeliveryPageOut, **ID_ERRORS, **errors(
            e400="`invalid_webhook_id`, `invalid_input` (a filter).",
            e404="`webhook_not_found`; `not_found`: the page cursor is not valid.")},
        examples=[OpenApiExample("attempt log", response_only=True, status_codes=["200"],
                                 value={"results": [DELIVERY_EXAMPLE], "next": None}),
                  BAD_ID, NOT_FOUND, NOT_AUTHENTICATED, FORBIDDEN])
    def get(self, request: Request, webhook_id: str) -> Response:
        endpoint = _owned(request, webhook_id)
        filters = DeliveryFilterIn(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = NewestFirst()
        page = paginator.paginate_queryset(selectors.delivery_list(endpoint=endpoint, **{
            key: value for key, value in filters.validated_data.items() if key != "limit"}), request, view=self)
        return Response(represent(DeliveryPageOut, {"results": page, "next": paginator.get_next_link()}))


class WebhookReplayApi(APIView):
    @extend_schema(
        operation_id="webhooks_replay", tags=["webhooks"], summary="Send a delivery again",
        description="Queues the same message again (same `webhook-id`, a fresh signature), whatever became of "
                    "it: to recover what a receiver lost, or failed for good. The answer is the new delivery, "
                    "`replay_of` naming the one replayed." + WHO,
        request=None,
        responses={202: DeliveryOut, **ID_ERRORS, **errors(
            e400="`invalid_webhook_id`, `invalid_delivery_id`.",
            e404="`webhook_not_found`, `delivery_not_found`.",
            e409="`webhook_disabled`: re-enable the endpoint first.")},
        examples=[OpenApiExample("queued again", response_only=True, status_codes=["202"], value={
            **DELIVERY_EXAMPLE, "id": 4190, "attempt": 0, "status_code": None, "duration_ms": None,
            "state": "pending", "next_attempt_at": "2026-12-01T13:00:00+00:00", "replay_of": 4182,
            "delivered_at": None, "log": []}),
                  BAD_ID, NOT_FOUND, error_example(404, "delivery_not_found", "No delivery with that id for this "
                                                                               "endpoint."),
                  NOT_AUTHENTICATED, FORBIDDEN])
    def post(self, request: Request, webhook_id: str, delivery_id: str) -> Response:
        pk = _webhook(request, webhook_id)
        number = parse_int_id(delivery_id, code="invalid_delivery_id", what="Delivery")
        delivery = services.delivery_replay(endpoint_id=pk, owner=request.user, delivery_id=number)
        return Response(represent(DeliveryOut, delivery), status=status.HTTP_202_ACCEPTED)
