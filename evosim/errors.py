"""The project's user-facing error base: the CLI prints these as one line and exits with code 2."""


class UserError(Exception):
    """A problem the user can fix (bad input, bad run directory); the message says what and how."""
