"""Tests for shekara.audit.decoders."""
