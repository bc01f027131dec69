"""Admin building blocks shared by the domain apps."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import cached_property
from typing import Any, ClassVar

from django.contrib import admin
from django.contrib.admin.options import ShowFacets
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest

# A large table's list counts and pages this many rows at most (100 pages of 100): a deeper OFFSET costs a scan.
CHANGELIST_ROW_CAP = 10_000


class CappedPaginator(Paginator):
    """Counts exactly up to `cap` rows, so a count never scans more; pages stop there.

    `count` runs one statement, `SELECT count(*) FROM (... LIMIT cap + 1)`. Past
    the cap `capped` is true and `estimate` is the planner's row estimate for the
    whole match (one EXPLAIN, no rows read), which the page says is an estimate.
    """

    cap = CHANGELIST_ROW_CAP
    capped = False
    estimate: int | None = None

    def page(self, number: int | str) -> Any:
        """The page's rows found by id: `WHERE id IN (SELECT id ... ORDER BY ... LIMIT n OFFSET m)`.

        A deep page's OFFSET then walks only the order's index: the related rows
        (`list_select_related`) and annotations are computed for the page's rows
        alone, not for every row the OFFSET skips. Still one statement.
        """
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        page_ids = self.object_list.values("pk")[bottom:top]  # type: ignore[attr-defined]
        return self._get_page(self.object_list.filter(pk__in=page_ids), number, self)  # type: ignore[attr-defined]

    @cached_property
    def count(self) -> int:
        queryset: QuerySet[Any] = self.object_list.order_by()  # type: ignore[attr-defined]
        counted = queryset[: self.cap + 1].count()
        if counted > self.cap:
            self.capped = True
            self.estimate = max(self.cap + 1, _planner_rows(queryset))
        return min(counted, self.cap)


def _planner_rows(queryset: QuerySet[Any]) -> int:
    """The planner's estimate of how many rows `queryset` returns: EXPLAIN only, nothing is read."""
    plan = json.loads(queryset.explain(format="json"))[0]["Plan"]
    return int(plan["Plan Rows"])


class CappedChangeList(ChangeList):
    """Refuses "show all" past the cap: it would list every row of the table in one page."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        if self.paginator.capped:
            self.can_show_all = False
            if self.show_all:
                self.result_list = self.paginator.page(self.page_num).object_list


class LargeTableAdmin(admin.ModelAdmin):
    """A changelist that costs the same at a million rows as at ten.

    Counts capped and estimated beyond (CappedPaginator, said so by
    templates/admin/pagination.html), no full count, no facet counts (each a
    GROUP BY over the table), and only the sorts listed in `sortable_by`, which
    a subclass names after the indexes that serve them.
    """

    paginator = CappedPaginator
    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    sortable_by: ClassVar[list[str] | tuple[str, ...] | None] = ()

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return CappedChangeList


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


def values_filter(field: str, values: Callable[[], Iterable[str]], *, title: str = "") -> type[admin.SimpleListFilter]:
    """A sidebar filter on `field` whose options come from `values()`: code, settings or a small table.

    Django's filter for a plain field lists `SELECT DISTINCT field` over the whole
    table on every page load. The parameter stays `<field>__exact`, so links work.
    """

    class ValuesFilter(admin.SimpleListFilter):
        parameter_name = f"{field}__exact"

        def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
            return [(value, value) for value in values()]

        def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
            return queryset.filter(**{field: self.value()}) if self.value() else queryset

    ValuesFilter.title = title or field.replace("_", " ")
    return ValuesFilter


class IndexedSearchAdmin(LargeTableAdmin):
    """Search that every large table can afford: each kind of term hits an index.

    A whole number finds by id; a term with "@" finds by email (case-insensitive,
    served by the UPPER(email) unique indexes); anything else matches the exact,
    indexed keys in `search_keys`, or the start of each field in `search_prefixes`
    (case-insensitive: `UPPER(field) LIKE 'TERM%'`, served by an index on
    UPPER(field) with text_pattern_ops). Nothing matches inside a word: that needs
    pg_trgm, which the embedded PostgreSQL lacks. Django's default search wraps
    every field in UPPER(...) LIKE '%term%', which scans.
    """

    search_email_path: str = "email"
    search_keys: tuple[str, ...] = ()
    search_prefixes: tuple[str, ...] = ()

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.isdigit():
            return queryset.filter(pk=int(term)), False
        if "@" in term and self.search_email_path:
            return queryset.filter(**{f"{self.search_email_path}__iexact": term}), False
        matches = Q()
        for key in self.search_keys:
            matches |= Q(**{key: term})
        for field in self.search_prefixes:
            matches |= Q(**{f"{field}__istartswith": term})
        return (queryset.filter(matches) if matches else queryset.none()), False
