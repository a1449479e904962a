#!/usr/bin/env python3
"""Generates data/demo/alliance-demo.json: the small demo alliance `make run` loads.

Two cities (Guangzhou, Shenzhen), an alliance Organization, member hospitals with
departments, practitioners, and patients whose laboratory and imaging reports are spread
over several members. All people and hospitals are fictitious. Deterministic output:
rerun after editing and commit both files.

    python3 tools/demo/generate_demo.py > data/demo/alliance-demo.json
"""
import json
import random

BASE = "https://fhir.medalliance.cn"
RID = BASE + "/sid/resident-id"
rng = random.Random(20261126)


def resident_id(region, birth, seq, female):
    """18-character mainland ID with the GB 11643 check digit."""
    order = seq * 2 + (0 if female else 1)
    body = f"{region}{birth.replace('-', '')}{order:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(body, weights))
    return body + "10X98765432"[total % 11]


entries = []


def add(resource, full_id):
    resource["id"] = full_id
    entries.append({
        "fullUrl": f"{BASE}/{resource['resourceType']}/{full_id}",
        "resource": resource,
        "request": {"method": "PUT", "url": f"{resource['resourceType']}/{full_id}"},
    })


add({"resourceType": "Organization", "active": True,
     "type": [{"coding": [{"system": BASE + "/CodeSystem/organization-type", "code": "alliance",
                           "display": "Medical alliance"}]}],
     "name": "广深医疗联盟 Guangzhou–Shenzhen Medical Alliance"}, "alliance")

HOSPITALS = [
    ("gz-central", "广州联盟中心医院", "Guangzhou Alliance Central Hospital", "广州市", "440106", "三级甲等"),
    ("gz-tianhe-chc", "天河区社区卫生服务中心", "Tianhe Community Health Centre", "广州市", "440106", "社区卫生服务中心"),
    ("sz-heart", "深圳联盟心血管医院", "Shenzhen Alliance Cardiovascular Hospital", "深圳市", "440304", "三级甲等"),
    ("sz-nanshan", "南山区人民医院（示例）", "Nanshan District Hospital (demo)", "深圳市", "440305", "二级"),
]
for key, name_zh, name_en, city, district, grade in HOSPITALS:
    add({"resourceType": "Organization", "active": True,
         "extension": [{"url": BASE + "/StructureDefinition/hospital-grade", "valueString": grade}],
         "identifier": [{"system": BASE + "/sid/organization", "value": key}],
         "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type",
                               "code": "prov", "display": "Healthcare Provider"}]}],
         "name": name_zh, "alias": [name_en],
         "address": [{"city": city, "district": district, "state": "广东省", "country": "CN"}],
         "partOf": {"reference": "Organization/alliance"}}, key)
    add({"resourceType": "OrganizationAffiliation", "active": True,
         "period": {"start": "2020-10-01"},
         "organization": {"reference": "Organization/alliance"},
         "participatingOrganization": {"reference": f"Organization/{key}"}}, f"member-{key}")
    for dept_key, dept in [("lab", "检验科 Laboratory medicine"), ("rad", "放射科 Radiology"),
                           ("card", "心内科 Cardiology")]:
        add({"resourceType": "Organization", "active": True, "name": dept,
             "partOf": {"reference": f"Organization/{key}"}}, f"{key}-{dept_key}")

PRACTITIONERS = [("李", "明", "gz-central", "cardiology"), ("王", "芳", "gz-central", "radiology"),
                 ("陈", "静", "sz-heart", "cardiology"), ("刘", "洋", "sz-nanshan", "general-practice"),
                 ("黄", "磊", "gz-tianhe-chc", "general-practice")]
for index, (family, given, org, specialty) in enumerate(PRACTITIONERS):
    pid = f"pr-{index + 1}"
    add({"resourceType": "Practitioner", "active": True,
         "name": [{"family": family, "given": [given], "text": family + given}]}, pid)
    add({"resourceType": "PractitionerRole", "active": True,
         "practitioner": {"reference": f"Practitioner/{pid}"},
         "organization": {"reference": f"Organization/{org}"},
         "specialty": [{"text": specialty}]}, f"role-{index + 1}")

LABS = [("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mmol/L", 4.0, 9.0),
        ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 3.4, 5.2),
        ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "umol/L", 50, 120),
        ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/L", 110, 170),
        ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 4.5, 8.5)]
FAMILIES = ["张", "王", "李", "赵", "周", "吴"]
GIVENS = ["伟", "秀英", "娜", "强", "敏", "军"]
for n in range(6):
    family, given = FAMILIES[n], GIVENS[n]
    female = given in ("秀英", "娜", "敏")
    birth = f"{1950 + n * 7}-{(n % 12) + 1:02d}-{(n * 5) % 27 + 1:02d}"
    home = HOSPITALS[n % len(HOSPITALS)]
    patient_id = f"pat-{n + 1}"
    add({"resourceType": "Patient", "active": True,
         "identifier": [
             {"system": RID, "value": resident_id(home[4], birth, n + 1, female)},
             {"system": f"{BASE}/sid/mrn/{home[0]}", "value": f"MRN{100000 + n}"}],
         "name": [{"use": "official", "family": family, "given": [given], "text": family + given}],
         "gender": "female" if female else "male", "birthDate": birth,
         "telecom": [{"system": "phone", "value": f"138{rng.randint(10000000, 99999999)}"}],
         "address": [{"city": home[3], "state": "广东省", "country": "CN"}],
         "managingOrganization": {"reference": f"Organization/{home[0]}"}}, patient_id)
    for r in range(2):
        issuer = HOSPITALS[(n + r) % len(HOSPITALS)][0]
        day = f"2026-{(n + r) % 9 + 2:02d}-{(n * 3 + r * 7) % 27 + 1:02d}"
        results = []
        for code, display, unit, low, high in rng.sample(LABS, 3):
            obs_id = f"obs-{n + 1}-{r + 1}-{code.replace('-', '')}"
            value = round(rng.uniform(low, high), 1 if unit != "%" else 1)
            add({"resourceType": "Observation", "status": "final",
                 "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                           "code": "laboratory", "display": "Laboratory"}]}],
                 "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": display}]},
                 "subject": {"reference": f"Patient/{patient_id}"},
                 "effectiveDateTime": day + "T08:30:00+08:00", "issued": day + "T11:00:00+08:00",
                 "performer": [{"reference": f"Organization/{issuer}"}],
                 "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org",
                                   "code": unit}}, obs_id)
            results.append({"reference": f"Observation/{obs_id}"})
        add({"resourceType": "DiagnosticReport", "status": "final",
             "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                                       "code": "LAB", "display": "Laboratory"}]}],
             "code": {"coding": [{"system": "http://loinc.org", "code": "11502-2",
                                  "display": "Laboratory report"}]},
             "subject": {"reference": f"Patient/{patient_id}"},
             "effectiveDateTime": day + "T08:30:00+08:00", "issued": day + "T11:00:00+08:00",
             "performer": [{"reference": f"Organization/{issuer}"}], "result": results},
            f"dr-{n + 1}-{r + 1}")
    add({"resourceType": "DiagnosticReport", "status": "final",
         "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                                   "code": "RAD", "display": "Radiology"}]}],
         "code": {"coding": [{"system": "http://loinc.org", "code": "24627-2", "display": "Chest CT"}]},
         "subject": {"reference": f"Patient/{patient_id}"},
         "effectiveDateTime": "2026-09-15T10:00:00+08:00",
         "performer": [{"reference": f"Organization/{HOSPITALS[(n + 2) % 4][0]}"}],
         "conclusion": "双肺未见明显异常。No acute abnormality."}, f"dr-{n + 1}-ct")

bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
print(json.dumps(bundle, ensure_ascii=False, indent=1))
