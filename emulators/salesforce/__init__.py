"""A local, faithful emulator of the Salesforce APIs the controller reads.

The OAuth token endpoint (JWT bearer, client credentials) and the REST query resource with its
paging, limits header, errors and quirks (reference/salesforce-api.md, parts B and C), over an
in-memory org seeded from emulators/seed/org.yaml. `make_salesforce_app(org, settings)` builds
the ASGI app; `emulators.serving.serve` runs it; `python -m emulators.salesforce` serves one.
"""

from emulators.salesforce.app import make_salesforce_app
from emulators.salesforce.org import Org
from emulators.salesforce.settings import EmulatorSettings

__all__ = ["EmulatorSettings", "Org", "make_salesforce_app"]
