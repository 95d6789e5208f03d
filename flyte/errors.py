"""The project's user errors: a mistake in what the user gave, as opposed to a bug.

The workflows and the command line show a UserInputError's message alone (it names the input, the problem and the
way out); every other exception, a library's ValueError included, keeps its traceback.
"""


class UserInputError(Exception):
    """A mistake in what the user gave: data, settings, a dataset or model location, a model file, an argument."""


class InvalidSettingsError(UserInputError, ValueError):
    """A setting (test_split_ratio, seed, hyperparameters, workers, ...) of the wrong type or out of its range."""


def quoted(value: object, limit: int = 40) -> str:
    """A value the user gave, as an error message quotes it: its repr, cut after `limit` characters with the full
    length said (a 100 kB string is not echoed whole)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
