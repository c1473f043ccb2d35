"""Tests of the officials' API (a package so module names cannot clash with other test folders)."""
