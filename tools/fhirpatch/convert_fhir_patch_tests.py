#!/usr/bin/env python3
"""Converts the FHIRPath Patch test cases from FHIR XML to FHIR JSON.

Input:  fhir-patch-tests.xml from GitHub FHIR/fhir-test-cases, r4/patch/ (commit
        2dee8a0f8fa0b948b4cd28f0edfc34a0322318fe), Apache-2.0 (that repository's LICENSE.txt).
        A copy is in /work/shared/data/fhir-patch-tests-r4/.
Output: a JSON array of {"name", "mode", "input", "patch", and "output" or "error"}, written
        to tests/fhir/patch/fhir_patch_tests.json (run from the repository root):

    python3 tools/fhirpatch/convert_fhir_patch_tests.py \
        /work/shared/data/fhir-patch-tests-r4/fhir-patch-tests.xml \
        tests/fhir/patch/fhir_patch_tests.json

FHIR XML does not say which elements repeat or which primitives are JSON booleans or numbers,
so the script carries a small table of the elements the cases use (R4 cardinalities and
types). An element missing from the table stops the conversion, so a new case cannot be
converted wrongly in silence. Standard library only.
"""

import json
import sys
import xml.etree.ElementTree as ET

FHIR_NS = "{http://hl7.org/fhir}"
XHTML_NS = "{http://www.w3.org/1999/xhtml}"

# element path -> (type, repeats). A type that is itself a key prefix (a backbone element such
# as "Patient.contact") names its own children. Every element also has "extension" (*).
ELEMENTS = {
    "Patient.id": ("id", False),
    "Patient.text": ("Narrative", False),
    "Patient.identifier": ("Identifier", True),
    "Patient.active": ("boolean", False),
    "Patient.name": ("HumanName", True),
    "Patient.telecom": ("ContactPoint", True),
    "Patient.gender": ("code", False),
    "Patient.birthDate": ("date", False),
    "Patient.deceasedBoolean": ("boolean", False),
    "Patient.address": ("Address", True),
    "Patient.maritalStatus": ("CodeableConcept", False),
    "Patient.contact": ("Patient.contact", True),
    "Patient.managingOrganization": ("Reference", False),
    "Patient.contact.relationship": ("CodeableConcept", True),
    "Patient.contact.name": ("HumanName", False),
    "Patient.contact.telecom": ("ContactPoint", True),
    "Patient.contact.address": ("Address", False),
    "Patient.contact.gender": ("code", False),
    "Patient.contact.period": ("Period", False),
    "Narrative.status": ("code", False),
    "Narrative.div": ("xhtml", False),
    "Identifier.use": ("code", False),
    "Identifier.type": ("CodeableConcept", False),
    "Identifier.system": ("uri", False),
    "Identifier.value": ("string", False),
    "Identifier.period": ("Period", False),
    "Identifier.assigner": ("Reference", False),
    "HumanName.use": ("code", False),
    "HumanName.text": ("string", False),
    "HumanName.family": ("string", False),
    "HumanName.given": ("string", True),
    "HumanName.prefix": ("string", True),
    "HumanName.suffix": ("string", True),
    "HumanName.period": ("Period", False),
    "ContactPoint.system": ("code", False),
    "ContactPoint.value": ("string", False),
    "ContactPoint.use": ("code", False),
    "ContactPoint.rank": ("positiveInt", False),
    "ContactPoint.period": ("Period", False),
    "Address.use": ("code", False),
    "Address.type": ("code", False),
    "Address.text": ("string", False),
    "Address.line": ("string", True),
    "Address.city": ("string", False),
    "Address.district": ("string", False),
    "Address.state": ("string", False),
    "Address.postalCode": ("string", False),
    "Address.country": ("string", False),
    "Address.period": ("Period", False),
    "CodeableConcept.coding": ("Coding", True),
    "CodeableConcept.text": ("string", False),
    "Coding.system": ("uri", False),
    "Coding.version": ("string", False),
    "Coding.code": ("code", False),
    "Coding.display": ("string", False),
    "Coding.userSelected": ("boolean", False),
    "Period.start": ("dateTime", False),
    "Period.end": ("dateTime", False),
    "Reference.reference": ("string", False),
    "Reference.type": ("uri", False),
    "Reference.display": ("string", False),
    "Parameters.parameter": ("Parameters.parameter", True),
    "Parameters.parameter.name": ("string", False),
    "Parameters.parameter.part": ("Parameters.parameter", True),
}
# Types with a value[x] choice element.
CHOICE_OWNERS = {"Extension", "Parameters.parameter"}
PRIMITIVES = {
    "boolean", "integer", "positiveInt", "unsignedInt", "decimal", "string", "code", "id",
    "uri", "url", "canonical", "oid", "uuid", "markdown", "base64Binary", "date", "dateTime",
    "instant", "time", "xhtml",
}
PRIMITIVE_SUFFIXES = {p[0].upper() + p[1:]: p for p in PRIMITIVES}


def local(tag):
    return tag.split("}", 1)[1] if "}" in tag else tag


def lookup(owner, name):
    if name == "extension":
        return ("Extension", True)
    if owner in CHOICE_OWNERS and name.startswith("value") and len(name) > 5:
        suffix = name[5:]
        return (PRIMITIVE_SUFFIXES.get(suffix, suffix), False)
    key = owner + "." + name
    if key not in ELEMENTS:
        raise SystemExit("unknown element %s: add it to ELEMENTS" % key)
    return ELEMENTS[key]


def primitive_json(type_name, text):
    if type_name == "boolean":
        if text not in ("true", "false"):
            raise SystemExit("bad boolean %r" % text)
        return text == "true"
    if type_name in ("integer", "positiveInt", "unsignedInt", "decimal"):
        return json.loads(text)  # keeps the value; the cases use small integers only
    return text


def escape_text(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xhtml(element, top=True):
    out = "<" + local(element.tag)
    if top:
        out += ' xmlns="http://www.w3.org/1999/xhtml"'
    for name, value in element.attrib.items():
        out += ' %s="%s"' % (local(name), escape_text(value).replace('"', "&quot;"))
    out += ">" + escape_text(element.text or "")
    for child in element:
        out += xhtml(child, False) + escape_text(child.tail or "")
    return out + "</" + local(element.tag) + ">"


def convert_complex(element, type_name):
    """Returns the JSON object for a complex element (or resource) of `type_name`."""
    obj = {}
    if type_name == "Extension" and "url" in element.attrib:
        obj["url"] = element.attrib["url"]
    elif "id" in element.attrib:
        obj["id"] = element.attrib["id"]
    # Collect children in document order, grouping repeats under the first occurrence.
    values = {}
    extensions = {}
    repeating = {}
    order = []
    for child in element:
        if not isinstance(child.tag, str):
            continue  # comment
        name = local(child.tag)
        child_type, repeats = lookup(type_name, name)
        if name not in values:
            order.append(name)
            values[name] = []
            extensions[name] = []
        if child_type == "xhtml":
            values[name].append(xhtml(child))
            extensions[name].append(None)
        elif child_type in PRIMITIVES:
            value = child.attrib.get("value")
            values[name].append(None if value is None else primitive_json(child_type, value))
            ext = convert_complex(child, "Element")
            extensions[name].append(ext if ext else None)
        else:
            values[name].append(convert_complex(child, child_type))
            extensions[name].append(None)
        if not repeats and len(values[name]) > 1:
            raise SystemExit("%s.%s repeats but is not declared repeating" % (type_name, name))
        repeating[name] = repeats
    for name in order:
        repeats = repeating[name]
        items = values[name]
        exts = extensions[name]
        if any(v is not None for v in items):
            obj[name] = items if repeats else items[0]
        if any(e is not None for e in exts):
            obj["_" + name] = exts if repeats else exts[0]
    return obj


def convert_resource(element):
    resource_type = local(element.tag)
    obj = {"resourceType": resource_type}
    obj.update(convert_complex(element, resource_type))
    return obj


def only_child(element):
    children = [c for c in element if isinstance(c.tag, str)]
    if len(children) != 1:
        raise SystemExit("expected one resource in <%s>" % element.tag)
    return children[0]


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: convert_fhir_patch_tests.py INPUT.xml OUTPUT.json")
    tree = ET.parse(sys.argv[1])
    cases = []
    for case in tree.getroot().iter("case"):
        out = {"name": case.attrib["name"], "mode": case.attrib.get("mode", "both")}
        out["input"] = convert_resource(only_child(case.find("input")))
        out["patch"] = convert_resource(only_child(case.find("diff")))
        if case.find("output") is not None:
            out["output"] = convert_resource(only_child(case.find("output")))
        else:
            out["error"] = case.find("error").attrib["msg"]
        cases.append(out)
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(cases, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print("converted %d cases" % len(cases))


if __name__ == "__main__":
    main()
