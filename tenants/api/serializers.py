"""The base of every API input serializer: a key the serializer does not declare is a 400 naming it.

DRF drops undeclared keys silently, so a misspelt field (`titel`) did nothing without a word, and
a view passing `**validated_data` on could hand a service a keyword it does not take (a
TypeError, a 500). Input serializers derive from `InputSerializer` / `InputModelSerializer`
(tests/tenants/test_unknown_fields.py checks every write endpoint); the keys they accept are
exactly their fields, read-only ones included (those are ignored, as DRF does).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError

# Keys a browser form adds that are no field of any resource.
IGNORED_KEYS = frozenset({"csrfmiddlewaretoken"})


class RefuseUnknownFieldsMixin:
    def to_internal_value(self, data: Any) -> Any:
        unknown = {}
        if isinstance(data, Mapping):
            message = f"unknown field; this resource takes {self._known_names()}"
            unknown = {
                str(key): [ErrorDetail(message, code="unknown_field")]
                for key in data
                if key not in self.fields and key not in IGNORED_KEYS
            }
        try:
            value = super().to_internal_value(data)
        except ValidationError as error:
            # Every invalid field in one answer: the unknown ones next to the others.
            if unknown and isinstance(error.detail, dict):
                raise ValidationError({**error.detail, **unknown}) from None
            raise
        if unknown:
            raise ValidationError(unknown)
        return value

    def _known_names(self) -> str:
        names = sorted(name for name, field in self.fields.items() if not field.read_only)
        return ", ".join(names) if names else "no fields"


class InputSerializer(RefuseUnknownFieldsMixin, serializers.Serializer):
    pass


class InputModelSerializer(RefuseUnknownFieldsMixin, serializers.ModelSerializer):
    pass


def refuse_unknown_keys(data: Any, serializer_class: type[serializers.Serializer]) -> None:
    """For a view whose service validates the body itself: only the keys its documented serializer declares."""
    if isinstance(data, Mapping):
        serializer = serializer_class()
        unknown = [key for key in data if key not in serializer.fields and key not in IGNORED_KEYS]
        if unknown:
            message = f"unknown field; this resource takes {RefuseUnknownFieldsMixin._known_names(serializer)}"
            raise ValidationError({str(key): [ErrorDetail(message, code="unknown_field")] for key in unknown})
