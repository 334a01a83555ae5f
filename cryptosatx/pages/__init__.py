"""The dashboard's server-rendered pages (docs/dashboard.md), one module per page. They read through
the same query functions as the API (cryptosatx.api.queries) where one exists, so the two cannot
disagree, and each runs a fixed number of queries however many rows it shows."""
