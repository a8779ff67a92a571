"""The discovery documents: /ServiceProviderConfig, /ResourceTypes and /Schemas.

They describe what the emulator (and Slack) actually keeps: PATCH and filters yes (at most
1000 results), sorting, ETags, bulk and password changes no; and a User schema trimmed to the
attributes Slack stores here, so a client that builds its models from discovery (scim2-tester)
does not send attributes that would be silently dropped.
"""

from __future__ import annotations

from typing import Any

from emulators.slack.patch import CORE_GROUP, CORE_USER, ENTERPRISE, ENTERPRISE_FIELDS

SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RT_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
DOCS = "https://docs.slack.dev/reference/scim-api"


def service_provider_config(base: str) -> dict[str, Any]:
    return {
        "schemas": [SPC_SCHEMA],
        "documentationUri": DOCS,
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": 1000},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "An OAuth token with the admin scope: Authorization: Bearer xoxp-",
                "specUri": "https://www.rfc-editor.org/info/rfc6750",
                "documentationUri": DOCS,
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{base}/ServiceProviderConfig",
        },
    }


def _attribute(
    name: str,
    kind: str = "string",
    *,
    required: bool = False,
    multi: bool = False,
    mutability: str = "readWrite",
    unique: str = "none",
    sub: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    attribute: dict[str, Any] = {
        "name": name,
        "type": kind,
        "multiValued": multi,
        "description": name,
        "required": required,
        "caseExact": False,
        "mutability": mutability,
        "returned": "default",
        "uniqueness": unique,
    }
    if sub is not None:
        attribute["subAttributes"] = sub
    return attribute


def _schema(urn: str, name: str, attributes: list[dict[str, Any]], base: str) -> dict[str, Any]:
    return {
        "schemas": [SCHEMA_SCHEMA],
        "id": urn,
        "name": name,
        "description": name,
        "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": f"{base}/Schemas/{urn}"},
    }


def schemas(base: str) -> list[dict[str, Any]]:
    read_only = "readOnly"
    user = [
        _attribute("userName", required=True, unique="server"),
        _attribute("nickName"),
        _attribute("name", "complex", sub=[_attribute("givenName"), _attribute("familyName")]),
        _attribute("displayName"),
        _attribute("title"),
        _attribute(
            "emails",
            "complex",
            multi=True,
            sub=[_attribute("value"), _attribute("type"), _attribute("primary", "boolean")],
        ),
        _attribute("active", "boolean"),
        _attribute(
            "groups",
            "complex",
            multi=True,
            mutability=read_only,
            sub=[
                _attribute("value", mutability=read_only),
                _attribute("display", mutability=read_only),
            ],
        ),
    ]
    group = [
        _attribute("displayName", required=True),
        _attribute(
            "members",
            "complex",
            multi=True,
            sub=[
                _attribute("value", mutability="immutable"),
                _attribute("display", mutability=read_only),
            ],
        ),
    ]
    enterprise = [_attribute(field) for field in ENTERPRISE_FIELDS]
    return [
        _schema(CORE_USER, "User", user, base),
        _schema(ENTERPRISE, "EnterpriseUser", enterprise, base),
        _schema(CORE_GROUP, "Group", group, base),
    ]


def resource_types(base: str) -> list[dict[str, Any]]:
    return [
        {
            "schemas": [RT_SCHEMA],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "Slack users",
            "schema": CORE_USER,
            "schemaExtensions": [{"schema": ENTERPRISE, "required": False}],
            "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/User"},
        },
        {
            "schemas": [RT_SCHEMA],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "Slack user groups (IdP groups)",
            "schema": CORE_GROUP,
            "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/Group"},
        },
    ]


def listing(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": [LIST_SCHEMA],
        "totalResults": len(resources),
        "itemsPerPage": len(resources),
        "startIndex": 1,
        "Resources": resources,
    }
