"""The officials' API and dashboard: FastAPI over the findings store, with keys and scopes."""
