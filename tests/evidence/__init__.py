"""Tests of the findings store (a package so module names cannot clash with other test folders)."""
