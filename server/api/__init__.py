"""The /v1 HTTP routes, one module per resource."""
