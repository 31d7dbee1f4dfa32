import pytest

from tenants.api.base import TenantScopedViewSet
from tenants.models import ApiKey, Membership
from tenants.scoping import UnscopedQueryError

pytestmark = pytest.mark.django_db


def test_unscoped_queries_are_refused(alice):
    with pytest.raises(UnscopedQueryError):
        ApiKey.objects.all()
    with pytest.raises(UnscopedQueryError):
        ApiKey.objects.filter(name="x")
    with pytest.raises(UnscopedQueryError):
        Membership.objects.count()


def test_scoped_queries_see_only_their_tenant(alice, charlie):
    assert list(ApiKey.objects.for_tenant(alice.tenant)) == [alice.api_key]
    assert list(ApiKey.objects.for_tenant(charlie.tenant.pk)) == [charlie.api_key]


def test_related_managers_work_through_the_parent_row(alice):
    assert list(alice.tenant.api_keys.all()) == [alice.api_key]


def test_a_tenant_owned_row_cannot_be_saved_without_a_tenant():
    with pytest.raises(UnscopedQueryError):
        ApiKey(name="orphan", prefix="p", secret_hash="h").save()


def test_api_views_cannot_override_get_queryset():
    with pytest.raises(TypeError):

        class Leaky(TenantScopedViewSet):
            def get_queryset(self):
                return ApiKey.unscoped.all()
