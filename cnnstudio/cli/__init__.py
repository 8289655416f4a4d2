"""The command line: the same core jobs, headless (batch use, scripting, tests)."""
