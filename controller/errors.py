"""The controller's error kinds: every adapter maps its vendor's failures onto these, in one place.

The loop and the CLI decide what to do from the kind alone: retry later (`TransientError`), stop
until configuration changes (`StalledError`), or report a conflict or absence for one operation.
Messages must never carry a secret or token; adapters pass only what the vendor said.
"""

from __future__ import annotations


class ProvisionerError(Exception):
    """Base of every error the controller expects and reports without a traceback."""


class PolicyError(ProvisionerError):
    """The policy could not be loaded; `errors` holds every `file:line: message` found."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


class SourceError(ProvisionerError):
    """A source could not be read completely. Its users must not be taken as the whole truth."""


class AppError(ProvisionerError):
    """Base of errors from a connected app; `status` is the HTTP status where there was one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TransientError(AppError):
    """Network failure, 429 or 5xx: the same request may succeed later."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ):
        super().__init__(message, status=status)
        self.retry_after = retry_after


class NotFoundError(AppError):
    """The resource named in the request does not exist in the app (404)."""


class ConflictError(AppError):
    """The app refused a create because the value is taken (409 uniqueness)."""


class BadRequestError(AppError):
    """The app refused the payload (400): a mapping or policy problem for this one operation."""


class StalledError(AppError):
    """Authentication or configuration is wrong (401, 403, bad endpoint): retrying will not help."""


class IncompleteListingError(AppError):
    """A paged listing did not add up (short page, changing totals): the observation is unusable."""


class LookupUnsupportedError(AppError):
    """The app cannot find accounts by this attribute faithfully (no such filter, or one that
    may miss an account the full listing would show): the caller lists the app instead."""
