"""Conclave static reviewer: the authoritative verdict on a submission, from CPython's own `ast`.

This file is the driver: the request/response protocol and the result JSON. The rules live in the
package rules/ beside it, one module per family (rules/__init__.py lists them and the rules each owns).
Only the standard library is used; nothing of the reviewed source is ever executed.

runtime/review.ts runs `python3 -I -S -B -c <this source> rules/__init__.py <its source> ...`, inside the
sandbox image with network none, or with the host's python3 as the documented fallback: the reviewer's
other files arrive as (path, source) argument pairs, the same text that policyHash covers, and are
imported from memory. Run as a file (`python3 -I -S -B review.py < request.json`) it reads them from
beside itself. Either way nothing is looked up on sys.path for them (under -I it holds neither the
script's directory nor the working directory) and no bytecode is written.

Reads one JSON request on stdin:
    {"policy": {...}, "fingerprint": true,
     "files": [{"id": "...", "source_b64": "...", "entrypoint": true, "localModules": ["helpers"],
                "project": "p1", "module": "helpers"}]}
(files with the same "project" are the modules of one ZIP project, analysed as one program)
and writes one JSON response on stdout:
    {"reviewer": "conclave-review/1", "python": "3.11.2",
     "results": [{"id", "verdict": "accept"|"reject", "findings": [{rule, line, col, message}],
                  "fingerprint": {"tokens": [...], "lines": [...]},
                  "work": <budget units the analysis used>, "stats": {"cpuMs": ...}}]}
"""
import base64
import binascii
import importlib.util
import json
import os
import sys
import time

REVIEWER = "conclave-review/1"
DRIVER = "review.py"


class SourceModules:
    """Meta-path finder and loader for the reviewer's own modules, from source text held in memory
    ({"rules/names.py": "...", ...}); an import of anything else falls through to the standard finders."""

    def __init__(self, sources):
        self.sources = sources

    def find_spec(self, fullname, path=None, target=None):
        base = fullname.replace(".", "/")
        for rel, package in ((base + "/__init__.py", True), (base + ".py", False)):
            if rel in self.sources:
                return importlib.util.spec_from_loader(fullname, self, origin=rel, is_package=package)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        rel = module.__spec__.origin
        exec(compile(self.sources[rel], rel, "exec", dont_inherit=True), module.__dict__)


def module_sources():
    """The reviewer's files other than this driver, by path relative to it ('/'-separated)."""
    if "__file__" not in globals():  # -c: passed as (path, source) argument pairs by runtime/review.ts
        pairs = sys.argv[1:]
        if not pairs or len(pairs) % 2:
            sys.exit("review.py: run with -c, it needs the reviewer's modules as (path, source) argument pairs")
        return dict(zip(pairs[0::2], pairs[1::2]))
    here = os.path.dirname(os.path.abspath(__file__))
    sources = {}
    for dirpath, dirnames, filenames in os.walk(here):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            rel = os.path.relpath(os.path.join(dirpath, name), here).replace(os.sep, "/")
            if name.endswith(".py") and rel != DRIVER:
                with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                    sources[rel] = f.read()
    return sources


sys.meta_path.insert(0, SourceModules(module_sources()))

from rules import Reviewer  # noqa: E402  (imported through SourceModules)
from rules.fingerprint import fingerprint  # noqa: E402
from rules.folding import Project  # noqa: E402
from rules.source import parse_submission  # noqa: E402


def review_one(policy, item, want_fingerprint):
    started = time.process_time()
    out = review_source(policy, item, want_fingerprint)
    out["stats"] = {"cpuMs": round((time.process_time() - started) * 1000, 1)}
    return out


def parsed(policy, item):
    """(out, tree): the result skeleton and the syntax tree, or a tree of None with the refusal in out."""
    out = {"id": item.get("id"), "verdict": "reject", "findings": []}
    try:
        raw = base64.b64decode(item["source_b64"], validate=True)
    except (KeyError, binascii.Error, ValueError, TypeError):
        out["findings"].append({"rule": "request", "line": 0, "col": 0, "message": "source_b64 missing or invalid"})
        return out, None
    tree, refusal = parse_submission(raw, policy.get("limits", {}))
    if refusal is not None:
        out["findings"].append(refusal)
    return out, tree


def failed(out, e):
    """Any failure of the reviewer on a source is a verdict on that source."""
    msg = "the syntax tree is nested too deeply to review" if isinstance(e, RecursionError) else \
        "the reviewer could not analyse this source (%s); simplify it" % type(e).__name__
    out["findings"] = [{"rule": "too-complex", "line": 0, "col": 0, "message": msg}]
    out["verdict"] = "reject"
    out.pop("work", None)
    return out


def finish(out, tree, findings, work, want_fingerprint):
    out["findings"] = findings
    out["work"] = work
    out["verdict"] = "reject" if findings else "accept"
    if want_fingerprint:
        try:
            out["fingerprint"] = fingerprint(tree)
        except RecursionError:
            pass
    return out


def review_source(policy, item, want_fingerprint):
    out, tree = parsed(policy, item)
    if tree is None:
        return out
    try:
        reviewer = Reviewer(policy, tree, bool(item.get("entrypoint", True)), item.get("localModules"))
        findings = reviewer.run()
    except (RecursionError, MemoryError, Exception) as e:  # noqa: BLE001
        return failed(out, e)
    return finish(out, tree, findings, reviewer.budget.used, want_fingerprint)


def review_project(policy, items, want_fingerprint):
    """The files of one ZIP project (items with the same "project" and their "module" names): one
    interpretation of the whole program, each file judged on its own findings."""
    started = time.process_time()
    outs, reviewers = [], []
    for item in sorted(items, key=lambda i: not i.get("entrypoint", False)):
        out, tree = parsed(policy, item)
        outs.append((item, out, None))
        if tree is None:
            continue
        try:
            r = Reviewer(policy, tree, bool(item.get("entrypoint", True)), item.get("localModules"))
            reviewers.append((str(item.get("module")), r))
            outs[-1] = (item, out, r)
        except (RecursionError, MemoryError, Exception) as e:  # noqa: BLE001
            failed(out, e)
    if reviewers:
        try:
            for _, r in reviewers:
                r.prepare()
            Project(reviewers).interpret()
        except (RecursionError, MemoryError, Exception) as e:  # noqa: BLE001 - the whole program could not be analysed
            for item, out, r in outs:
                if r is not None:
                    failed(out, e)
            outs = [(item, out, None) for item, out, _ in outs]
    done = {}
    for item, out, r in outs:
        try:
            done[id(item)] = out if r is None else finish(out, r.tree, r.check(), r.budget.used, want_fingerprint)
        except (RecursionError, MemoryError, Exception) as e:  # noqa: BLE001
            done[id(item)] = failed(out, e)
    cpu = round((time.process_time() - started) * 1000, 1)
    for o in done.values():
        o["stats"] = {"cpuMs": cpu, "project": True}
    return [done[id(i)] for i in items]


def main():
    # Tells the caller the interpreter is up and reviewing: a timeout after this line is the input's
    # doing (a verdict), before it the machine's (Docker or python3 not starting: a fault).
    sys.stderr.write("conclave-review: started\n")
    sys.stderr.flush()
    sys.setrecursionlimit(10000)
    request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    policy = request["policy"]
    want = bool(request.get("fingerprint"))
    groups = {}
    for item in request["files"]:
        if item.get("project") is not None and item.get("module"):
            groups.setdefault(str(item["project"]), []).append(item)
    by_item = {}
    for items in groups.values():
        for item, out in zip(items, review_project(policy, items, want)):
            by_item[id(item)] = out
    results = [by_item[id(item)] if id(item) in by_item else review_one(policy, item, want) for item in request["files"]]
    sys.stdout.write(json.dumps({"reviewer": REVIEWER, "python": sys.version.split()[0], "results": results}))
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
