"""Page numbers over a list counted up to a cap (`dam.selectors.assets.count_capped`): the staff lists never count
every row of a big tenant. Past the cap the list says "10,000+" and pages up to it; narrowing the filter or
turning the order reaches the rest."""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property

from dam.selectors import search as library_search
from dam.selectors.assets import COUNT_CAP, count_capped


class CappedPage(Page):
    def end_index(self) -> int:
        # The rows it holds (a capped count is not where the last page ends).
        return self.start_index() - 1 + len(self)


class CappedPaginator(Paginator):
    cap = COUNT_CAP

    @cached_property
    def count(self) -> int:
        return count_capped(self.object_list, cap=self.cap)

    @property
    def capped(self) -> bool:
        """More rows match than were counted."""
        return self.count > self.cap

    @property
    def count_label(self) -> str:
        return f"{self.cap:,}+" if self.capped else f"{self.count:,}"

    def _bounds(self, number: int) -> tuple[int, int]:
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if not self.capped and top + self.orphans >= self.count:
            top = self.count  # (past a cap more rows follow than were counted: the page stays whole)
        return bottom, top

    def page(self, number: int | str) -> Page:
        number = self.validate_number(number)
        bottom, top = self._bounds(number)
        return self._get_page(self.object_list[bottom:top], number, self)

    def _get_page(self, *args, **kwargs) -> Page:
        return CappedPage(*args, **kwargs)


class RankedPaginator(CappedPaginator):
    """Pages of a best-match list (`dam.selectors.search.assets_ranked`): positions below the number of ranked
    candidates come from them, best first; the ones past them from the matches newest first (the candidates being
    the newest matches, those are the rest in order). Counted over every match up to SEARCH_COUNT_CAP, without
    ranking, in the statement that finds the candidates when there are fewer matches than that."""

    def __init__(self, matches: QuerySet, per_page: int, *, q: str, **kwargs) -> None:
        super().__init__(matches.order_by("-id"), per_page, **kwargs)
        self.q = q
        self.cap = library_search.SEARCH_COUNT_CAP

    @cached_property
    def found(self) -> library_search.CountedMatches:
        return library_search.assets_matches_counted(self.object_list, cap=self.cap)

    @cached_property
    def count(self) -> int:
        return self.found.count

    @cached_property
    def ranked(self) -> QuerySet:
        return library_search.assets_ranked(self.object_list, q=self.q, newest=self.found.newest)

    @property
    def candidates(self) -> int:
        newest = self.found.newest
        return len(newest) if newest is not None else library_search.RANK_CANDIDATES

    def page(self, number: int | str) -> Page:
        number = self.validate_number(number)
        bottom, top = self._bounds(number)
        candidates = self.candidates
        rows = list(self.ranked[bottom : min(top, candidates)]) if bottom < candidates else []
        if top > candidates:
            rows += list(self.object_list[max(bottom, candidates) : top])
        return self._get_page(rows, number, self)
