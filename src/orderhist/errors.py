"""The two kinds of failure the CLI reports, by exit code."""


class OrderhistError(RuntimeError):
    """An operational failure: exit 1 with this one-line message (AWS error, timeout, ...)."""


class UsageProblem(ValueError):
    """Bad input found past click's own checks (a config file, a dataset): exit 2."""
