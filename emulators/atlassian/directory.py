"""The RFC SCIM server under the Atlassian layer: scim2-server, configured as Atlassian's is.

scim2-server answers everything Atlassian does the RFC way. This module sets it up to announce
and keep Atlassian's capabilities (PATCH and filters yes; sorting, ETags, bulk and password
changes no; at most 100 results a page), to place resources under the directory's base URL
(`meta.location` and `Location` say `/scim/directory/{id}/Users/...`, not scim2-server's `/v2`)
and to answer a PATCH with 200 and the resource, as Atlassian documents, never the 204 the RFC
also allows. Authentication, limits and Atlassian's own rules are the layer's (`app`).
"""

from __future__ import annotations

import functools
from typing import Any

from scim2_models import (
    Bulk,
    ChangePassword,
    Context,
    ETag,
    Filter,
    Resource,
    ScimProvider,
    Sort,
)
from scim2_server.applications.asgi import ASGIApplication
from scim2_server.memory import AsyncInMemoryStorage, InMemoryStorage
from scim2_server.responses import ScimResponse
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME
from scim2_server.utils import (
    load_default_resource_types,
    load_default_schemas,
    load_default_service_provider_config,
)

MAX_PAGE = 100
"""Atlassian serves "the first max 100 users" a request; a larger count gets 100."""


@functools.cache
def _provider() -> ScimProvider:
    """Atlassian's capabilities over the default User (with Enterprise) and Group schemas."""
    config = load_default_service_provider_config().model_copy(
        update={
            "bulk": Bulk(supported=False, max_operations=0, max_payload_size=0),
            "filter": Filter(supported=True, max_results=MAX_PAGE),
            "change_password": ChangePassword(supported=False),
            "sort": Sort(supported=False),
            "etag": ETag(supported=False),
            "authentication_schemes": [BEARER_TOKEN_SCHEME],
        }
    )
    return ScimProvider.from_discovery(
        load_default_schemas().values(), load_default_resource_types().values(), config=config
    )


class _Service(ScimService):
    """scim2-server's protocol, except that a PATCH answers 200 with the patched resource."""

    def patch_response(
        self, base_url: str, resource: Resource[Any], response_parameters: Any
    ) -> ScimResponse:
        published = self.publish(base_url, resource)
        response: ScimResponse = self.resource_response(
            published, Context.RESOURCE_REPLACEMENT_RESPONSE, response_parameters
        )
        return response


class Directory(ASGIApplication):
    """scim2-server over in-memory storage, serving paths relative to the directory base.

    The layer in front hands it requests whose path is relative to `base_path` (`/Users/...`)
    and whose scope says where the client reached the directory.
    """

    def __init__(self, base_path: str) -> None:
        provider = _provider()
        self.memory = InMemoryStorage()
        """The resources; hold `memory.lock` to read or change them from another thread."""
        super().__init__(AsyncInMemoryStorage(self.memory), provider, _Service(provider))
        self.base_path = base_path

    def get_base_url(self, scope: dict[str, Any]) -> str:  # type: ignore[override]
        """The directory's SCIM base URL as the client sees it (for locations).

        scim2-server's own is a static method that always ends in `/v2`.
        """
        host = ""
        for name, value in scope.get("headers", ()):
            if name.lower() == b"host":
                host = value.decode()
        if not host and scope.get("server"):
            host = "{}:{}".format(*scope["server"])
        return f"{scope['scheme']}://{host}{self.base_path}"

    def add(self, resource: Resource[Any]) -> Resource[Any]:
        """Store a User or Group directly, as if made in Atlassian itself; returns it with id."""
        schema = str(type(resource).__schema__)
        (resource_type,) = (rt for rt in self.provider.resource_types if str(rt.schema_) == schema)
        stored: Resource[Any] = self.memory.create(resource_type, resource)
        return stored
