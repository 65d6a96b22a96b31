"""The /v1 HTTP and websocket routes, one module per resource."""
