"""API clients for operators: create one (its token is shown once), narrow it, revoke it. Never delete: logs name it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from apps.apiclients.models import ApiClient, ApiClientState, ApiScope
from apps.apiclients.services import api_client_create, api_client_revoke


class ApiClientForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=ApiScope.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = ApiClient
        fields = ("name", "scopes", "expires_at")


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(ApiClientState.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> QuerySet[ApiClient]:
        now = timezone.now()
        live = queryset.filter(revoked_at=None)
        if self.value() == ApiClientState.ACTIVE:
            return live.filter(Q(expires_at=None) | Q(expires_at__gt=now))
        if self.value() == ApiClientState.EXPIRED:
            return live.filter(expires_at__lte=now)
        if self.value() == ApiClientState.REVOKED:
            return queryset.exclude(revoked_at=None)
        return queryset


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    form = ApiClientForm
    list_display = (
        "name",
        "scope_list",
        "token_hint",
        "state",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "created_by",
        "created_at",
    )
    list_filter = (StateFilter, "last_used_at")
    list_select_related = ("created_by",)
    search_fields = ("name",)
    readonly_fields = ("token_hint", "last_used_at", "revoked_at", "created_by", "created_at")
    actions = ["revoke_selected"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiClient | None = None) -> tuple[str, ...]:
        # The name is who the logs say acted: fixed once issued.
        return self.readonly_fields + (("name",) if obj else ())

    def get_fields(self, request: HttpRequest, obj: ApiClient | None = None) -> tuple[str, ...]:
        return ("name", "scopes", "expires_at") + ((*self.readonly_fields,) if obj else ())

    def has_delete_permission(self, request: HttpRequest, obj: ApiClient | None = None) -> bool:
        return False  # revoke instead: the logs keep naming the client

    @admin.display(description="scopes")
    def scope_list(self, client: ApiClient) -> str:
        return ", ".join(client.scopes)

    @admin.display(description="state")
    def state(self, client: ApiClient) -> str:
        return client.state(now=timezone.now()).label

    def save_form(self, request: HttpRequest, form: forms.ModelForm, change: bool) -> ApiClient:
        """On add, the service creates the client; its token rides on the instance to response_add, unsaved."""
        if change:
            return super().save_form(request, form, change)
        super().save_form(request, form, change)
        data = form.cleaned_data
        issued = api_client_create(
            name=data["name"], scopes=data["scopes"], expires_at=data["expires_at"], created_by=request.user
        )
        issued.client.issued_token = issued.token  # type: ignore[attr-defined]
        return issued.client

    def save_model(self, request: HttpRequest, obj: ApiClient, form: forms.ModelForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)

    def response_add(self, request: HttpRequest, obj: ApiClient, post_url_continue: str | None = None) -> HttpResponse:
        """Show the token on this one page, not through a redirect and a stored message."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "client": obj,
            "token": obj.issued_token,  # type: ignore[attr-defined]
            "title": f"Token for {obj.name}",
        }
        # Admin views are never_cache: the page carries Cache-Control: no-store.
        return TemplateResponse(request, "admin/apiclients/apiclient/token_issued.html", context)

    @admin.action(description="Revoke selected clients' tokens", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> HttpResponse | None:
        """Asks first, on a page listing the clients; then revokes each and records it in the admin history."""
        clients = list(queryset.filter(revoked_at=None))
        if not clients:
            self.message_user(request, "Nothing to revoke: the selected clients are revoked already.", messages.INFO)
            return None
        if request.POST.get("confirmed") != "yes":
            return self._confirm_revoke(request, clients)
        revoked = [client for client in clients if api_client_revoke(client_id=client.id, actor=request.user)]
        for client in revoked:
            self.log_change(request, client, "Revoked the token.")
        self.message_user(request, f"Revoked {len(revoked)}: {', '.join(map(str, revoked))}.", messages.SUCCESS)
        return None

    def _confirm_revoke(self, request: HttpRequest, clients: list[ApiClient]) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "clients": clients,
            "title": "Revoke these API clients?",
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/apiclients/apiclient/revoke_confirmation.html", context)
