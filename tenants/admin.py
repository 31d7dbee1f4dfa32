from django.contrib import admin

from tenants.models import ApiKey, Membership, Tenant


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "status", "time_zone", "created_at"]
    list_filter = ["status"]
    search_fields = ["slug", "name"]
    inlines = [MembershipInline]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    # Keys are issued by `create_api_key` or the API, which show the secret once; the admin
    # only lists them, so a secret can never be typed into or read out of a form.
    list_display = ["name", "tenant", "prefix", "scopes", "expires_at", "revoked_at", "last_used_at"]
    list_filter = ["tenant"]
    readonly_fields = [f.name for f in ApiKey._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
