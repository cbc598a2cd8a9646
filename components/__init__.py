"""Layout builders, figure builders and widgets. Never imports analytics, callbacks or pages."""
