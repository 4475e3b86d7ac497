# Computes the expected packages of the lock files in this directory with
# Python's own TOML and JSON readers (tomllib, json), following each tool's
# documented meaning of its fields:
#   poetry.lock   [[package]] name/version; dev when category == "dev"
#                 (Poetry < 1.5) or groups without "main" (Poetry 2);
#                 source.type "directory" is the project's own code.
#   pdm.lock      dev when groups exist without "default"; path/editable
#                 packages are the project's own code.
#   uv.lock       editable/virtual/directory sources are the workspace;
#                 dev when reachable only from the workspace's
#                 dev-dependencies.
#   Pipfile.lock  "default" and "develop" (dev unless also in default);
#                 version "==x"; entries without a version are VCS/paths.
# Run: python3 expected_locks.py   (writes */expected.json)
import glob
import json
import os
import tomllib

here = os.path.dirname(os.path.abspath(__file__))


def poetry(d):
    out = []
    for p in d.get("package", []):
        if p.get("source", {}).get("type") == "directory":
            continue
        groups = p.get("groups", [])
        dev = p.get("category") == "dev" or (bool(groups) and "main" not in groups)
        out.append((p["name"], p["version"], dev))
    return out


def pdm(d):
    out = []
    for p in d.get("package", []):
        if p.get("path") or p.get("editable"):
            continue
        groups = p.get("groups", [])
        out.append((p["name"], p["version"], bool(groups) and "default" not in groups))
    return out


def uv(d):
    pkgs = d.get("package", [])
    member = lambda p: "editable" in p.get("source", {}) or "virtual" in p.get("source", {})

    def find(dep):
        return [i for i, p in enumerate(pkgs) if p["name"] == dep["name"] and dep.get("version") in (None, p.get("version"))]

    def reach(roots):
        seen, todo = set(), [i for r in roots for i in find(r)]
        while todo:
            i = todo.pop()
            if i in seen:
                continue
            seen.add(i)
            p = pkgs[i]
            deps = list(p.get("dependencies", []))
            for extra in p.get("optional-dependencies", {}).values():
                deps += extra
            todo += [j for dep in deps for j in find(dep)]
        return seen

    prod = reach([{"name": p["name"], "version": p.get("version")} for p in pkgs if member(p)])
    dev = reach([dep for p in pkgs if member(p) for group in p.get("dev-dependencies", {}).values() for dep in group])
    out = []
    for i, p in enumerate(pkgs):
        src = p.get("source", {})
        if member(p) or "directory" in src or "version" not in p:
            continue
        out.append((p["name"], p["version"], i in dev and i not in prod))
    return out


def pipfile(d):
    out = []
    for name, e in d.get("default", {}).items():
        if "version" in e:
            out.append((name, e["version"].removeprefix("=="), False))
    for name, e in d.get("develop", {}).items():
        if "version" in e and name not in d.get("default", {}):
            out.append((name, e["version"].removeprefix("=="), True))
    return out


readers = {"poetry.lock": poetry, "pdm.lock": pdm, "uv.lock": uv, "Pipfile.lock": pipfile}
for path in sorted(glob.glob(os.path.join(here, "*", "*"))):
    base = os.path.basename(path)
    if base not in readers:
        continue
    with open(path, "rb") as f:
        data = json.load(f) if base.endswith("Pipfile.lock") else tomllib.load(f)
    pkgs = sorted(set(readers[base](data)), key=lambda x: (x[0].lower(), x[0], x[1], x[2]))
    with open(os.path.join(os.path.dirname(path), "expected.json"), "w") as f:
        json.dump([{"name": n, "version": v, "dev": dev} for n, v, dev in pkgs], f, indent=1)
        f.write("\n")
