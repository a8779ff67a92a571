"""A local, faithful emulator of Slack's SCIM v2 API (reference/target-apps.md B1 and B6).

Users and user groups under /scim/v2 with Slack's wire format and quirks: numeric-status error
bodies carrying Slack codes, usernames normalised and capped at 21 characters and sharing a
namespace with channels, emails unique even among deactivated users, DELETE that deactivates,
pages of 10 by default and at most 1000, the published rate limits and one write per object at
a time. `make_slack_app(SlackSettings(token=...))` builds the ASGI app; `emulators.serving.serve`
runs it; `python -m emulators.slack` serves one.
"""

from emulators.slack.app import SlackApp, make_slack_app
from emulators.slack.errors import SlackError
from emulators.slack.settings import SlackLimits, SlackSettings

__all__ = ["SlackApp", "SlackError", "SlackLimits", "SlackSettings", "make_slack_app"]
