"""Admin building blocks shared by the domain apps."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest


class ReadOnlyAdminMixin:
    """A ledger page: no add, no edit, no delete (nor bulk delete). Django then shows the record with no Save buttons.

    Changes go through admin actions that call the domain's services, which
    enforce its rules and record who acted.
    """

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class IndexedSearchAdmin(admin.ModelAdmin):
    """Search that every large table can afford: each kind of term hits an index.

    A whole number finds by id; a term with "@" finds by email (case-insensitive,
    served by the UPPER(email) unique indexes); anything else matches the exact,
    indexed keys in `search_keys`, or `search_names` by substring on small tables.
    Django's default search wraps every field in UPPER(...) LIKE, which scans.
    """

    search_email_path: str = "email"
    search_keys: tuple[str, ...] = ()
    search_names: tuple[str, ...] = ()

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.isdigit():
            return queryset.filter(pk=int(term)), False
        if "@" in term:
            return queryset.filter(**{f"{self.search_email_path}__iexact": term}), False
        matches = Q()
        for key in self.search_keys:
            matches |= Q(**{key: term})
        for name in self.search_names:
            matches |= Q(**{f"{name}__icontains": term})
        return (queryset.filter(matches) if matches else queryset.none()), False
