"""The dashboard: a FastAPI app, its job queue and the results it reads and writes."""
