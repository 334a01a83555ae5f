"""Response serializers, one module per resource. Everything is read-only: they format, and
drf-spectacular reads them to write the schema."""
