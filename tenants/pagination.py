from rest_framework import pagination


class StableCursorPagination(pagination.CursorPagination):
    """Cursor pages over the primary key: stable under concurrent inserts, O(1) per page."""

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 200
