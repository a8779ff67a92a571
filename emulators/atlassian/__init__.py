"""An emulator of Atlassian's user provisioning SCIM directory (Jira, Confluence Cloud).

`make_atlassian_app` builds one (see `app` for the rules it adds to scim2-server), `scim_base`
says where its SCIM API lives, and `python -m emulators.atlassian` serves one standalone.
"""

from __future__ import annotations

from emulators.atlassian.app import AtlassianApp, make_atlassian_app
from emulators.atlassian.settings import AtlassianSettings, scim_base

__all__ = ["AtlassianApp", "AtlassianSettings", "make_atlassian_app", "scim_base"]
