"""Analyses behind the pages, as plain functions: filters, co-location, profiles, overlap, access."""
