"""Builders for the sample captures: valid planted identifiers, flows and their manifests."""
