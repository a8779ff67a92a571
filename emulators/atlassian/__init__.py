"""An emulator of Atlassian's user provisioning SCIM directory (Jira, Confluence Cloud).

`make_atlassian_app` builds one (`app` adds Atlassian's rules, checked by the pure `rules`, in
front of the scim2-server that `directory` configures), `scim_base` says where its SCIM API
lives, and `python -m emulators.atlassian --port 9302 --token T` serves one standalone.
"""

from __future__ import annotations

from emulators.atlassian.app import AtlassianApp, make_atlassian_app
from emulators.atlassian.settings import AtlassianSettings, scim_base

__all__ = ["AtlassianApp", "AtlassianSettings", "make_atlassian_app", "scim_base"]
