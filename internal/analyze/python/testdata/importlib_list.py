# Lists the distributions under site-packages/ as Python's own metadata
# reader (importlib.metadata) sees them: the expectations of the
# installed-package test. Run: python3 importlib_list.py > site-packages.json
import importlib.metadata
import json
import os

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "site-packages")
out = []
for d in importlib.metadata.distributions(path=[root]):
    out.append({
        "name": d.metadata["Name"],
        "version": d.version,
        "path": "/" + os.path.relpath(str(d._path), here),
    })
out.sort(key=lambda x: x["path"])
json.dump(out, __import__("sys").stdout, indent=1)
print()
