"""Errors that teach.

Every message names the argument, the rule it broke, what came instead and how to fix it, e.g.::

    y must contain both classes; got only 0 (n=43). DeLong needs events and non-events: check the
    outcome column or the cohort filter.
"""


class ValidationError(ValueError):
    """Bad input from a user: the message says which argument, which rule, what came and the fix."""


class ConfigError(ValidationError):
    """A study configuration that cannot be run."""


class InputNotice(UserWarning):
    """What the input checks changed or left out (infinities made missing, text columns left out): said to the user,
    not an error. The CLI prints these as notes."""
