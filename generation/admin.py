from django import forms
from django.contrib import admin

from generation.foundry.config import AuthKind
from generation.foundry.services import deployment_save
from generation.models import Deployment


class DeploymentForm(forms.ModelForm):
    endpoint = forms.URLField(
        max_length=300, assume_scheme="https", help_text=Deployment._meta.get_field("endpoint").help_text
    )
    # Write-only: the stored key is never rendered back into the page, not even masked.
    api_key = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to keep the stored key. It is encrypted at rest and never shown again.",
    )
    clear_api_key = forms.BooleanField(
        required=False, help_text="Remove the stored key (e.g. after moving to Entra ID)"
    )
    # Not the model field: model validation would reject a second default before the
    # service gets to unmark the previous one, so the switch is left to the service.
    make_default = forms.BooleanField(
        required=False, label="Default", help_text=Deployment._meta.get_field("is_default").help_text
    )

    class Meta:
        model = Deployment
        fields = [
            "tenant",
            "name",
            "endpoint",
            "deployment",
            "api_style",
            "api_version",
            "auth_kind",
            "connect_timeout_seconds",
            "read_timeout_seconds",
            "rpm",
            "tpm",
            "max_attempts",
            "max_retry_seconds",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["make_default"].initial = self.instance.is_default

    def clean(self) -> dict:
        cleaned = super().clean()
        keeps_key = self.instance.has_api_key and not cleaned.get("clear_api_key")
        if cleaned.get("auth_kind") == AuthKind.API_KEY and not (cleaned.get("api_key") or keeps_key):
            self.add_error("api_key", "An api-key deployment needs a key.")
        return cleaned


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    form = DeploymentForm
    list_display = ["name", "tenant", "endpoint", "deployment", "api_style", "auth_kind", "has_key", "is_default"]
    list_filter = ["tenant", "api_style", "auth_kind", "is_default"]
    search_fields = ["name", "deployment", "endpoint", "tenant__slug"]
    readonly_fields = ["has_key", "created_at", "updated_at"]

    @admin.display(boolean=True, description="API key stored")
    def has_key(self, obj: Deployment) -> bool:
        return obj.has_api_key

    def save_model(self, request, obj: Deployment, form: DeploymentForm, change: bool) -> None:
        # The admin is one more entry point to the same service as code and API.
        obj.is_default = form.cleaned_data["make_default"]
        if form.cleaned_data.get("clear_api_key"):
            obj.set_api_key(None)
        deployment_save(deployment=obj, api_key=form.cleaned_data.get("api_key") or None)
