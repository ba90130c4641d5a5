#!/usr/bin/python3
"""validate_fhir.py - check kura's FHIR AuditEvent export against the FHIR R4 JSON schema.

  validate_fhir.py DUMPER SCHEMA

Runs DUMPER (dump_auditevents) into a temporary directory, then validates every
file it wrote against SCHEMA (the official FHIR R4 JSON schema, draft-06) and
against the elements IHE BALP requires of every AuditEvent (type, recorded, an
agent with requestor true, source.observer).  Prints each failure, then
"N passed, M failed"; exits 1 on any failure, 2 if it could not run.
"""

import json
import os
import subprocess
import sys
import tempfile

import jsonschema


def balp_problems(ev):
    """The BALP-required elements the schema alone does not insist on."""
    out = []
    t = ev.get("type", {})
    if not t.get("system") or not t.get("code"):
        out.append("type needs system and code")
    if not ev.get("recorded"):
        out.append("recorded is missing")
    if not any(a.get("requestor") is True for a in ev.get("agent", [])):
        out.append("no agent with requestor true")
    obs = ev.get("source", {}).get("observer", {})
    if not (obs.get("display") or obs.get("reference") or obs.get("identifier")):
        out.append("source.observer is empty")
    for p in ev.get("meta", {}).get("profile", []):
        if "Patient" in p.rsplit(".", 1)[-1] and not any(
                e.get("what", {}).get("reference", "").startswith("Patient/")
                for e in ev.get("entity", [])):
            out.append("patient profile %s without a Patient entity" % p)
    return out


def make_validators(schema_path):
    """Validators built once for the whole run: the whole schema (a oneOf over every
    resource type), and its AuditEvent definition alone for readable messages."""
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    draft = schema.get("$schema", "")
    if "draft-06" not in draft:
        sys.exit("validate_fhir: expected a draft-06 schema, got '%s'" % draft)
    detail = {"$ref": "#/definitions/AuditEvent", "definitions": schema["definitions"]}
    return jsonschema.Draft6Validator(schema), jsonschema.Draft6Validator(detail)


def schema_problems(whole, detail, ev):
    """Errors against the whole schema, explained by the AuditEvent definition."""
    if whole.is_valid(ev):
        return []
    errs = ["%s: %s" % ("/".join(map(str, e.absolute_path)) or "(root)", e.message[:300])
            for e in detail.iter_errors(ev)]
    return errs or ["not valid under the FHIR schema (resourceType?)"]


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    dumper, schema_path = argv[1], argv[2]
    whole, detail = make_validators(schema_path)
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="kura-fhir-") as tmp:
        run = subprocess.run([dumper, tmp], capture_output=True, text=True)
        if run.returncode != 0:
            print("validate_fhir: %s failed:\n%s" % (dumper, run.stderr), file=sys.stderr)
            failed += 1
        names = sorted(n for n in os.listdir(tmp) if n.endswith(".json"))
        if not names:
            print("validate_fhir: the dumper wrote no files", file=sys.stderr)
            return 1
        for name in names:
            with open(os.path.join(tmp, name), encoding="utf-8") as f:
                ev = json.load(f)
            errs = schema_problems(whole, detail, ev) + balp_problems(ev)
            if errs:
                failed += 1
                for e in errs:
                    print("FAIL %s: %s" % (name, e))
            else:
                passed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
