"""Rulesets: declarative YAML judged by one pydantic schema at load."""
