"""One router per resource of the officials' API."""
