"""API views, one module per resource. Each view validates its parameters, calls `queries`, and
hands the result to a response serializer."""
