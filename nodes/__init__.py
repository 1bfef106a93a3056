"""Built-in node kinds, one module per role; importing this package registers them."""
