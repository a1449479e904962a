#!/usr/bin/env python3
"""Builds the URL lists of the search benchmark from a running server (stdlib only).

  bench/search/make_urls.py BASE OUTDIR [--samples 300]

Samples patients (ids, identifiers, names) and lab codes through the API and writes one file
per query kind, one path+query per line, for bench/search/urls.lua.
"""
import json
import os
import random
import sys
import urllib.parse
import urllib.request


def get(base, path):
    token = os.environ.get("MA_TOKEN", "")
    request = urllib.request.Request(
        base + path, headers={"Authorization": "Bearer " + token} if token else {})
    with urllib.request.urlopen(request, timeout=120) as answer:
        return json.load(answer)


def main():
    base, out = sys.argv[1], sys.argv[2]
    samples = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--samples" else 300
    random.seed(7)
    os.makedirs(out, exist_ok=True)
    patients = []
    url = "/Patient?_count=1000"
    while url and len(patients) < samples * 3:
        bundle = get(base, url)
        patients += [e["resource"] for e in bundle.get("entry", []) if "resource" in e]
        nxt = next((l["url"] for l in bundle.get("link", []) if l["relation"] == "next"), None)
        url = nxt[len(base):] if nxt else None
    random.shuffle(patients)
    patients = patients[:samples]
    q = urllib.parse.quote
    lines = {k: [] for k in ["identifier", "name", "obs_patient_code_date", "dr_include",
                             "obs_code_value", "chain", "revinclude", "sort_walk"]}
    codes = set()
    for p in patients:
        pid = p["id"]
        ident = p["identifier"][0]
        lines["identifier"].append("/Patient?identifier=" + q(ident["system"] + "|" + ident["value"], safe=""))
        family = p["name"][0].get("family", "")
        lines["name"].append("/Patient?name=" + q(family, safe=""))
        obs = get(base, "/Observation?patient=" + pid + "&_count=5").get("entry", [])
        for e in obs:
            for c in e["resource"]["code"].get("coding", []):
                codes.add(c["code"])
        if obs:
            code = obs[0]["resource"]["code"]["coding"][0]["code"]
            lines["obs_patient_code_date"].append(
                "/Observation?patient=%s&code=%s&date=ge2015-01-01" % (pid, q("http://loinc.org|" + code, safe="")))
        lines["dr_include"].append(
            "/DiagnosticReport?subject=Patient/%s&category=LAB&_include=DiagnosticReport:result" % pid)
        lines["chain"].append("/Observation?subject.identifier=" + q(ident["system"] + "|" + ident["value"], safe="") + "&_count=20")
        lines["revinclude"].append("/Patient?_id=%s&_revinclude=Encounter:subject" % pid)
        lines["sort_walk"].append("/Observation?patient=%s&_sort=-date&_count=10" % pid)
    for code in sorted(codes):
        for v in (1, 5, 50, 100):
            lines["obs_code_value"].append("/Observation?code=%s&value-quantity=gt%d&_count=20" % (q("http://loinc.org|" + code, safe=""), v))
    for name, urls in lines.items():
        with open(os.path.join(out, name + ".urls"), "w") as f:
            f.write("\n".join(urls) + "\n")
    print("wrote", ", ".join("%s=%d" % (k, len(v)) for k, v in lines.items()))


if __name__ == "__main__":
    main()
