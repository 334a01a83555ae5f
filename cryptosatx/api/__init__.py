"""The read-only REST API: the unified ranking, one coin's scores and freshness, and scan runs.

Views validate their query parameters with serializers (bad input → 400 naming the parameter),
read through `queries`, and format with response serializers, so the OpenAPI schema is exact.
"""
