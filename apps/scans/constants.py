"""Fixed values of the scan engine."""

import re

# A scan is delivered to workers at most this many times (a worker killed mid-scan makes the
# broker redeliver it); the delivery after the last allowed attempt marks the scan failed.
MAX_ATTEMPTS = 3

# MITRE ATLAS technique or sub-technique id, e.g. AML.T0010 or AML.T0010.003.
ATLAS_TECHNIQUE_RE = re.compile(r"^AML\.T\d{4}(\.\d{3})?$")
