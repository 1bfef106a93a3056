"""Test helpers shared across the test packages (test servers, context builders)."""
