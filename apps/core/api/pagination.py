from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """Numbered pages with `next`/`previous` links as CONTRACT.md describes."""

    page_size_query_param = "page_size"
    max_page_size = 500
