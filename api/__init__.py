"""The officials' API: read-only FastAPI views over the findings store."""
