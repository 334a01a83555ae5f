"""drf-spectacular postprocessing: the error answers DRF gives on every operation, documented.

Any operation can answer 401 (a wrong or expired token is refused even where reading is public)
and, where it needs a login or an owner, 403; an operation with a path parameter can answer 404;
one with a body, 400 `{"detail": "JSON parse error ..."}` when the body is not JSON.
Each is `{"detail": "..."}` (the `Detail` component). Views that document their own keep theirs.
Found by tests/test_api_fuzz.py (schemathesis): these answers were real but undocumented.
"""
from __future__ import annotations

DETAIL = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
ANSWERS = {
    "401": "Not signed in, or the token is wrong: {detail}.",
    "403": "Signed in but not allowed (not yours, or a write without the right): {detail}.",
    "404": "No such object: {detail}.",
}


def document_error_answers(result: dict, generator, request, public) -> dict:
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Detail", DETAIL)
    ref = {"$ref": "#/components/schemas/Detail"}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            wanted = ["401", "403"]
            if "{" in path:
                wanted.append("404")
            for status in wanted:
                operation["responses"].setdefault(status, {
                    "content": {"application/json": {"schema": ref}}, "description": ANSWERS[status]})
            if "requestBody" in operation:
                _body_may_not_parse(operation, ref)
    return result


def _body_may_not_parse(operation: dict, ref: dict) -> None:
    """A body that is not JSON gets DRF's `{"detail": "JSON parse error - ..."}` before any field
    is looked at: the 400 answer is the view's field errors or that."""
    answer = operation["responses"].setdefault("400", {"description": "The body is not valid: {detail} or "
                                                                      "{field: [what is allowed]}."})
    media = answer.setdefault("content", {}).setdefault("application/json", {})
    schema = media.get("schema")
    if schema is None:
        media["schema"] = ref
    elif schema != ref and ref not in schema.get("anyOf", []):
        media["schema"] = {"anyOf": [schema, ref]}
