"""The HTTP server's concerns: settings, sign-in, access rules, headers, background jobs, observability."""
