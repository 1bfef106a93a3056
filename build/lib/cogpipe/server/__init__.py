"""cogpipe's web layer: the FastAPI app, SSE streams, the CLI."""
