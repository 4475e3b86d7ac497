# Computes the pinned requirements of a requirements file with pip's own
# parser (pip._internal.req.req_file) and packaging's requirement parser:
# the expectations of the requirements tests. Only requirements written in
# the file itself count (no -r includes, no -c constraints, no editables);
# a pin is a single == or === specifier without a wildcard.
# Run: python3 expected_requirements.py requirements/requirements-dev.txt
import json
import sys

from pip._internal.network.session import PipSession
from pip._internal.req.req_file import parse_requirements
from pip._vendor.packaging.requirements import InvalidRequirement, Requirement

path = sys.argv[1]
out = []
for pr in parse_requirements(path, session=PipSession()):
    if pr.is_editable or pr.constraint or not pr.comes_from.startswith("-r " + path + " "):
        continue
    try:
        req = Requirement(pr.requirement)
    except InvalidRequirement:
        continue
    specs = list(req.specifier)
    if req.url or len(specs) != 1 or specs[0].operator not in ("==", "===") or "*" in specs[0].version:
        continue
    out.append({"name": req.name, "version": specs[0].version})
out.sort(key=lambda x: (x["name"].lower(), x["version"]))
json.dump(out, sys.stdout, indent=1)
print()
