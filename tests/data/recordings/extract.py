"""Extracts recorded api.github.com responses into one JSON file per source, for tests/tests/recordings.rs.

Usage: python3 extract.py SPEC_JSON_GZ OUT_DIR [octokit-fixtures:VERSION:UNPACKED_DIR ...] [github3.py:VERSION:DIR] [PyGithub:VERSION:DIR]

Each entry keeps the response body exactly as recorded (JSON), with where and when it was recorded and the
operation of the pinned description whose method and path template match the request. Only 2xx JSON responses of
the operations listed in OPERATIONS are kept, at most PER_OPERATION_AND_YEAR of each operation and year of a source;
nothing in a body is changed.
"""

import base64, glob, gzip, io, json, os, re, sys
from email.utils import parsedate_to_datetime

OPERATIONS = {
    "repos/get", "repos/create-in-org", "repos/update", "repos/list-for-org", "repos/list-for-user",
    "repos/list-for-authenticated-user", "repos/get-content", "repos/create-or-update-file-contents",
    "repos/get-release", "repos/list-releases", "repos/create-release", "repos/update-release",
    "repos/get-release-by-tag", "repos/get-latest-release", "repos/list-release-assets", "repos/get-release-asset",
    "repos/upload-release-asset", "repos/update-release-asset", "repos/list-commit-statuses-for-ref",
    "repos/get-combined-status-for-ref", "repos/create-commit-status", "repos/get-commit", "repos/list-commits",
    "issues/get", "issues/create", "issues/update", "issues/list-for-repo", "issues/list-comments",
    "issues/create-comment", "issues/add-labels", "issues/list-labels-for-repo", "issues/create-label",
    "issues/get-label", "issues/update-label",
    "pulls/get", "pulls/list", "pulls/create", "pulls/update", "pulls/list-commits", "pulls/list-files",
    "pulls/list-reviews", "pulls/create-review", "pulls/submit-review", "pulls/list-review-comments",
    "pulls/create-review-comment", "pulls/list-requested-reviewers", "pulls/request-reviewers",
    "search/issues-and-pull-requests", "search/repositories", "search/code", "search/commits", "search/users",
    "checks/get", "checks/create", "checks/update", "checks/list-for-ref", "checks/list-for-suite",
    "checks/list-annotations", "checks/get-suite", "checks/create-suite", "checks/list-suites-for-ref",
    "checks/set-suites-preferences",
    "actions/list-workflow-runs-for-repo", "actions/get-workflow-run", "actions/list-workflow-runs",
    "actions/list-repo-workflows", "actions/get-workflow", "actions/list-jobs-for-workflow-run",
    "git/get-ref", "git/create-ref", "git/update-ref", "git/list-matching-refs",
}
# Recordings kept per operation and year of one source: enough to show each era, without megabytes of one call.
PER_OPERATION_AND_YEAR = 4


def templates(spec):
    out = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and "operationId" in op:
                # `{path}` (a file path) may hold slashes or be empty (the root directory).
                rx = "^" + re.sub(r"\{[^}]+\}", "[^/]+", path.replace("{path}", "\0")).replace("\0", ".*") + "$"
                out.append((method.upper(), re.compile(rx), path.count("{"), op["operationId"]))
    return out


def operation(tpls, method, path):
    path = path.split("?")[0]
    hits = [(n, op) for m, rx, n, op in tpls if m == method and rx.match(path)]
    return min(hits)[1] if hits else None


def octokit_fixtures(version, root, tpls):
    out = []
    for f in sorted(glob.glob(os.path.join(root, "package/scenarios/api.github.com/*/raw-fixture.json"))):
        scenario = f.split("/")[-2]
        for i, e in enumerate(json.load(open(f))):
            hdr = e.get("rawHeaders") or []
            hd = {hdr[j].lower(): hdr[j + 1] for j in range(0, len(hdr) - 1, 2)} if isinstance(hdr, list) else {k.lower(): v for k, v in hdr.items()}
            if not (200 <= e["status"] < 300) or not isinstance(e.get("response"), (dict, list)):
                continue
            if "json" not in hd.get("content-type", ""):
                continue
            op = operation(tpls, e["method"].upper(), e["path"])
            if op not in OPERATIONS:
                continue
            out.append({
                "operation_id": op, "method": e["method"].upper(), "path": e["path"], "status": e["status"],
                "recorded_at": parsedate_to_datetime(hd["date"]).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "recording": f"scenarios/api.github.com/{scenario}/raw-fixture.json#{i}",
                "body": e["response"],
            })
    return out


def github3(version, root, tpls):
    out = []
    for f in sorted(glob.glob(os.path.join(root, "tests/cassettes/*.json"))):
        name = os.path.basename(f)
        for i, it in enumerate(json.load(open(f)).get("http_interactions", [])):
            req, resp = it["request"], it["response"]
            status = resp.get("status", {}).get("code", 0)
            headers = {k.lower(): (v[0] if isinstance(v, list) else v) for k, v in resp["headers"].items()}
            uri = req["uri"]
            if not uri.startswith("https://api.github.com/") or not (200 <= status < 300):
                continue
            if "json" not in headers.get("content-type", ""):
                continue
            body = resp["body"]
            raw = base64.b64decode(body["base64_string"]) if body.get("base64_string") else body.get("string", "").encode()
            if headers.get("content-encoding") == "gzip":
                raw = gzip.decompress(raw)
            try:
                value = json.loads(raw)
            except ValueError:
                continue
            path = uri[len("https://api.github.com"):]
            op = operation(tpls, req["method"].upper(), path)
            if op not in OPERATIONS:
                continue
            out.append({
                "operation_id": op, "method": req["method"].upper(), "path": path, "status": status,
                "recorded_at": it["recorded_at"] + ("Z" if not it["recorded_at"].endswith("Z") else ""),
                "recording": f"tests/cassettes/{name}#{i}",
                "body": value,
            })
    return out


def pygithub(version, root, tpls):
    """PyGithub's tests/ReplayData: ten lines per exchange (protocol, method, host, port, path, request headers,
    request body, status, response headers as a Python list of pairs, body on one line)."""
    out = []
    for f in sorted(glob.glob(os.path.join(root, "tests/ReplayData/*.txt"))):
        name = os.path.basename(f)
        # PyGithub's BadAttributes tests put wrong types into the bodies on purpose: not what GitHub sent.
        if name.startswith("BadAttributes."):
            continue
        lines = open(f, encoding="utf-8").read().split("\n")
        i = 0
        while i + 10 <= len(lines):
            if lines[i] not in ("https", "http"):
                i += 1
                continue
            _, method, host, _, path, _, _, status, headers, body = lines[i:i + 10]
            at = i
            i += 10
            if host != "api.github.com" or not status.isdigit() or not (200 <= int(status) < 300):
                continue
            if "json" not in headers.lower():
                continue
            try:
                value = json.loads(body)
            except ValueError:
                continue
            op = operation(tpls, method.upper(), path)
            if op not in OPERATIONS:
                continue
            date = re.search(r"\('[Dd]ate', '([^']*)'\)", headers)
            out.append({
                "operation_id": op, "method": method.upper(), "path": path, "status": int(status),
                # Exchanges recorded before PyGithub kept the Date header carry no date.
                "recorded_at": parsedate_to_datetime(date.group(1)).strftime("%Y-%m-%dT%H:%M:%SZ") if date else None,
                "recording": f"tests/ReplayData/{name}:{at + 1}",
                "body": value,
            })
    return out


def deleted_head(body):
    items = body if isinstance(body, list) else [body]
    return any(isinstance(i, dict) and isinstance(i.get("head"), dict) and i["head"].get("repo", 0) is None
               for i in items)


def main():
    spec = json.load(gzip.open(sys.argv[1]))
    tpls = templates(spec)
    outdir = sys.argv[2]
    seen = set()
    for arg in sys.argv[3:]:
        kind, version, root = arg.split(":", 2)
        entries = {"octokit-fixtures": octokit_fixtures, "github3.py": github3, "PyGithub": pygithub}[kind](version, root, tpls)
        # A later version of a package keeps the recordings of scenarios it did not re-record: keep each once.
        entries = [e for e in entries if (e["method"], e["path"], e["recorded_at"]) not in seen]
        seen.update((e["method"], e["path"], e["recorded_at"]) for e in entries)
        kept, count = [], {}
        for e in entries:
            key = (e["operation_id"], (e["recorded_at"] or "")[:4])
            count[key] = count.get(key, 0) + 1
            # A pull request whose head fork or owner was deleted is kept whatever the count: it is the case
            # tests/tests/recordings.rs checks by name.
            if count[key] <= PER_OPERATION_AND_YEAR or deleted_head(e["body"]):
                kept.append(e)
        entries = kept
        name = f"{kind}-{version}.json.gz"
        # gzip with a fixed mtime, so the same input always gives the same bytes.
        with gzip.GzipFile(os.path.join(outdir, name), "wb", mtime=0) as gz, io.TextIOWrapper(gz, "utf-8") as fh:
            source = {"octokit-fixtures": "npm:@octokit/fixtures", "github3.py": "pypi:github3.py", "PyGithub": "pypi:PyGithub"}[kind]
            json.dump({"source": f"{source}@{version}",
                       "recordings": entries}, fh, indent=1, sort_keys=False)
            fh.write("\n")
        print(name, len(entries), sorted({e["operation_id"] for e in entries}))


main()
