#!/usr/bin/env python3
"""Generates data/demo/alliance-demo.json: the demo alliance `make run` loads.

A realistic, entirely fictitious alliance (README, "Registry"): the alliance Organization; in
each city (广州市, 深圳市) six hospitals and three community health centres, each a member through
an OrganizationAffiliation, with a grade, address and phone, departments (Organization partOf the
hospital) and services (HealthcareService with specialty and service type); one former member
whose membership ended; about fifty experts (Practitioner + PractitionerRole with SNOMED CT
practice-setting specialties); patients whose records are spread over several members, some
registered at two members under different record numbers (the master patient index links them),
with laboratory reports (Observations in a DiagnosticReport), imaging studies and reports, and a
few referrals from community health centres to hospitals.

Every hospital name contains 联盟 ("alliance") and is made up; people, phone numbers and
identity numbers are invented (resident IDs carry a valid GB 11643 check digit and agree with
the birth date and sex). Deterministic output: rerun after editing and commit both files.

    python3 tools/demo/generate_demo.py > data/demo/alliance-demo.json
"""
import json
import random

BASE = "https://fhir.medalliance.cn"
RID = BASE + "/sid/resident-id"
SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
GRADE_URL = BASE + "/StructureDefinition/hospital-grade"
GRADE_SYSTEM = BASE + "/CodeSystem/hospital-grade"
SERVICE_SYSTEM = BASE + "/CodeSystem/service"
rng = random.Random(20261126)

entries = []


def add(resource, full_id):
    resource = {"resourceType": resource.pop("resourceType"), "id": full_id, **resource}
    entries.append({
        "fullUrl": f"{BASE}/{resource['resourceType']}/{full_id}",
        "resource": resource,
        "request": {"method": "PUT", "url": f"{resource['resourceType']}/{full_id}"},
    })


def ref(reference, display=None):
    out = {"reference": reference}
    if display:
        out["display"] = display
    return out


def concept(system, code, display, text=None):
    out = {"coding": [{"system": system, "code": code, "display": display}]}
    if text:
        out["text"] = text
    return out


def resident_id(region, birth, seq, female):
    """18-character mainland ID with the GB 11643 check digit."""
    order = (seq % 500) * 2 + (0 if female else 1)
    body = f"{region}{birth.replace('-', '')}{order:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(body, weights))
    return body + "10X98765432"[total % 11]


GRADES = {
    "level3-a": "三级甲等",
    "level3-b": "三级乙等",
    "level2-a": "二级甲等",
    "level2": "二级",
    "chc": "社区卫生服务中心",
}

# SNOMED CT practice-setting codes (the R4 c80-practice-codes value set). Laboratory medicine
# (检验医学) has no code of its own there; General pathology is the closest.
SPECIALTIES = {
    "card": ("394579002", "Cardiology", "心血管内科"),
    "neuro": ("394591006", "Neurology", "神经内科"),
    "onco": ("394593009", "Medical oncology", "肿瘤内科"),
    "emer": ("773568002", "Emergency medicine", "急诊科"),
    "rad": ("394914008", "Radiology", "放射科"),
    "lab": ("394915009", "General pathology", "检验科"),
    "gp": ("394814009", "General practice", "全科医学科"),
}

# Services (HealthcareService.type) in the alliance's code system, by specialty.
SERVICES = {
    "card": [("chest-pain-centre", "胸痛中心 Chest pain centre"),
             ("primary-pci", "急诊冠脉介入 Primary PCI")],
    "neuro": [("stroke-thrombolysis", "卒中静脉溶栓 Stroke thrombolysis"),
              ("stroke-thrombectomy", "卒中取栓 Stroke thrombectomy")],
    "onco": [("tumour-mdt", "肿瘤多学科会诊 Tumour MDT")],
    "emer": [("emergency-care", "急诊 Emergency care")],
    "rad": [("ct", "CT 检查 CT imaging"), ("mri", "磁共振检查 MRI")],
    "lab": [("clinical-laboratory", "临床检验 Clinical laboratory")],
    "gp": [("general-practice", "全科门诊 General practice"),
           ("rehabilitation", "康复 Rehabilitation")],
}

CITIES = {"广州市": ("020", "广州"), "深圳市": ("0755", "深圳")}

# key, name, English name, city, district, district code, grade, specialties, joined
MEMBERS = [
    ("gz-central", "广州联盟中心医院", "Guangzhou Alliance Central Hospital", "广州市", "天河区", "440106",
     "level3-a", ["card", "neuro", "onco", "emer", "rad", "lab"], "2020-10-01"),
    ("gz-heart", "广州联盟心血管病医院", "Guangzhou Alliance Heart Hospital", "广州市", "越秀区", "440104",
     "level3-a", ["card", "emer", "rad", "lab"], "2020-10-01"),
    ("gz-cancer", "广州联盟肿瘤医院", "Guangzhou Alliance Cancer Hospital", "广州市", "海珠区", "440105",
     "level3-a", ["onco", "rad", "lab"], "2021-03-01"),
    ("gz-neuro", "广州联盟神经医学中心", "Guangzhou Alliance Neuroscience Centre", "广州市", "白云区", "440111",
     "level3-a", ["neuro", "emer", "rad", "lab"], "2021-03-01"),
    ("gz-liwan", "荔湾联盟医院", "Liwan Alliance Hospital", "广州市", "荔湾区", "440103",
     "level3-b", ["card", "emer", "rad", "lab"], "2022-01-01"),
    ("gz-panyu", "番禺联盟医院", "Panyu Alliance Hospital", "广州市", "番禺区", "440113",
     "level2-a", ["emer", "rad", "lab"], "2022-07-01"),
    ("gz-tianhe-chc", "天河联盟社区卫生服务中心", "Tianhe Alliance Community Health Centre", "广州市",
     "天河区", "440106", "chc", ["gp", "lab"], "2020-10-01"),
    ("gz-haizhu-chc", "海珠联盟社区卫生服务中心", "Haizhu Alliance Community Health Centre", "广州市",
     "海珠区", "440105", "chc", ["gp", "lab"], "2021-06-01"),
    ("gz-baiyun-chc", "白云联盟社区卫生服务中心", "Baiyun Alliance Community Health Centre", "广州市",
     "白云区", "440111", "chc", ["gp"], "2023-01-01"),
    ("sz-central", "深圳联盟中心医院", "Shenzhen Alliance Central Hospital", "深圳市", "福田区", "440304",
     "level3-a", ["card", "neuro", "onco", "emer", "rad", "lab"], "2020-10-01"),
    ("sz-heart", "深圳联盟心血管医院", "Shenzhen Alliance Cardiovascular Hospital", "深圳市", "南山区",
     "440305", "level3-a", ["card", "emer", "rad", "lab"], "2020-10-01"),
    ("sz-cancer", "深圳联盟肿瘤医院", "Shenzhen Alliance Cancer Hospital", "深圳市", "龙岗区", "440307",
     "level3-a", ["onco", "rad", "lab"], "2021-03-01"),
    ("sz-trauma", "深圳联盟急救创伤中心", "Shenzhen Alliance Trauma Centre", "深圳市", "罗湖区", "440303",
     "level3-b", ["emer", "neuro", "rad", "lab"], "2021-09-01"),
    ("sz-nanshan", "南山联盟医院", "Nanshan Alliance Hospital", "深圳市", "南山区", "440305",
     "level2-a", ["card", "emer", "rad", "lab"], "2022-01-01"),
    ("sz-baoan", "宝安联盟医院", "Bao'an Alliance Hospital", "深圳市", "宝安区", "440306",
     "level2", ["emer", "rad", "lab"], "2022-07-01"),
    ("sz-futian-chc", "福田联盟社区健康服务中心", "Futian Alliance Community Health Centre", "深圳市",
     "福田区", "440304", "chc", ["gp", "lab"], "2020-10-01"),
    ("sz-luohu-chc", "罗湖联盟社区健康服务中心", "Luohu Alliance Community Health Centre", "深圳市",
     "罗湖区", "440303", "chc", ["gp"], "2021-06-01"),
    ("sz-longhua-chc", "龙华联盟社区健康服务中心", "Longhua Alliance Community Health Centre", "深圳市",
     "龙华区", "440309", "chc", ["gp", "lab"], "2023-01-01"),
]
# A former member: its membership ended (affiliation active = false, period.end in the past).
FORMER = ("sz-qianhai", "前海联盟医院", "Qianhai Alliance Hospital", "深圳市", "南山区", "440305",
          "level2", ["emer", "lab"], "2020-10-01", "2025-06-30")

add({"resourceType": "Organization", "active": True,
     "identifier": [{"system": BASE + "/sid/organization", "value": "alliance"}],
     "type": [concept(BASE + "/CodeSystem/organization-type", "alliance", "Medical alliance",
                      "医疗联盟")],
     "name": "广深医疗联盟", "alias": ["Guangzhou–Shenzhen Medical Alliance"],
     "telecom": [{"system": "phone", "value": "020-38880000", "use": "work"}],
     "address": [{"city": "广州市", "district": "天河区", "state": "广东省", "country": "CN",
                  "line": ["天河区联盟大道1号"]}]}, "alliance")

SERVICE_IDS = {}  # member key -> [(service id, specialty key)]


def add_member(member, end=None):
    key, name, name_en, city, district, _, grade, specialties, joined = member[:9]
    area, _ = CITIES[city]
    number = rng.randint(20000000, 89999999)
    add({"resourceType": "Organization", "active": True,
         "extension": [{"url": GRADE_URL,
                        "valueCodeableConcept": concept(GRADE_SYSTEM, grade, GRADES[grade],
                                                        GRADES[grade])}],
         "identifier": [{"system": BASE + "/sid/organization", "value": key}],
         "type": [concept("http://terminology.hl7.org/CodeSystem/organization-type", "prov",
                          "Healthcare Provider")],
         "name": name, "alias": [name_en],
         "telecom": [{"system": "phone", "value": f"{area}-{number}", "use": "work"}],
         "address": [{"use": "work", "line": [f"{district}联盟路{rng.randint(1, 399)}号"],
                      "city": city, "district": district, "state": "广东省", "country": "CN"}]},
        key)
    departments = list(specialties)
    for dept in departments:
        code, display, zh = SPECIALTIES[dept]
        add({"resourceType": "Organization", "active": True,
             "type": [concept("http://terminology.hl7.org/CodeSystem/organization-type", "dept",
                              "Hospital Department")],
             "name": f"{name}{zh}", "alias": [f"{name_en} — {display}"],
             "partOf": ref(f"Organization/{key}", name)}, f"{key}-{dept}")
    services = []
    for dept in specialties:
        code, display, zh = SPECIALTIES[dept]
        service_id = f"{key}-svc-{dept}"
        add({"resourceType": "HealthcareService", "active": True,
             "providedBy": ref(f"Organization/{key}", name),
             "category": [concept(BASE + "/CodeSystem/service-category",
                                  "primary-care" if dept == "gp" else
                                  "diagnostics" if dept in ("rad", "lab") else "specialist",
                                  "Primary care" if dept == "gp" else
                                  "Diagnostics" if dept in ("rad", "lab") else "Specialist care")],
             "type": [concept(SERVICE_SYSTEM, c, d) for c, d in SERVICES[dept]],
             "specialty": [concept(SCT, code, display, zh)],
             "name": f"{name} {zh}",
             "telecom": [{"system": "phone", "value": f"{area}-{rng.randint(20000000, 89999999)}",
                          "use": "work"}]}, service_id)
        services.append((service_id, dept))
    SERVICE_IDS[key] = services
    period = {"start": joined}
    if end:
        period["end"] = end
    add({"resourceType": "OrganizationAffiliation", "active": end is None,
         "period": period,
         "organization": ref("Organization/alliance", "广深医疗联盟"),
         "participatingOrganization": ref(f"Organization/{key}", name),
         "code": [concept(BASE + "/CodeSystem/alliance-role",
                          "lead" if key in ("gz-central", "sz-central") else "member",
                          "牵头单位 Lead member" if key in ("gz-central", "sz-central")
                          else "成员单位 Member")],
         "specialty": [concept(SCT, *SPECIALTIES[d][:2], SPECIALTIES[d][2]) for d in specialties],
         "healthcareService": [ref(f"HealthcareService/{s}") for s, _ in services]},
        f"member-{key}")


for member in MEMBERS:
    add_member(member)
add_member(FORMER, end=FORMER[9])

FAMILY = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
          "何", "林", "罗", "高", "郑", "梁", "谢", "宋", "唐", "许", "邓", "冯", "韩", "曹", "曾", "彭",
          "萧", "蔡", "潘", "田", "董", "袁", "于", "余", "叶", "蒋", "杜", "苏", "魏", "程", "吕", "丁"]
GIVEN_M = ["伟", "强", "磊", "军", "洋", "勇", "杰", "涛", "明", "超", "刚", "平", "辉", "鹏", "华", "建国",
           "志强", "文博", "浩然", "子轩", "国栋", "海涛", "振华", "俊杰"]
GIVEN_F = ["芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "秀英", "桂英", "玉兰", "婷", "雪", "慧",
           "佳怡", "雨涵", "晓燕", "美玲", "淑华", "丽华", "欣怡", "思琪"]
TITLES = ["主任医师", "副主任医师", "主治医师"]

# About fifty experts: by member, the specialties it has (lead hospitals get more).
practitioners = []  # (practitioner id, role id, member key, specialty)
used_names = set()


def new_name(female):
    while True:
        name = (rng.choice(FAMILY), rng.choice(GIVEN_F if female else GIVEN_M))
        if name not in used_names:
            used_names.add(name)
            return name


n_pr = 0
for member in MEMBERS:
    key, name, _, city, _, _, grade, specialties, _ = member
    area, _ = CITIES[city]
    per_specialty = 2 if key in ("gz-central", "sz-central") else 1
    for dept in specialties:
        count = per_specialty if dept in ("card", "neuro", "onco") else 1
        if dept in ("lab", "rad") and grade not in ("level3-a", "level3-b"):
            count = 0
        for _ in range(count):
            n_pr += 1
            female = rng.random() < 0.45
            family, given = new_name(female)
            pid = f"pr-{n_pr:03d}"
            title = "主治医师" if grade == "chc" else rng.choice(TITLES[:2])
            code, display, zh = SPECIALTIES[dept]
            add({"resourceType": "Practitioner", "active": True,
                 "identifier": [{"system": BASE + "/sid/practitioner-licence",
                                 "value": f"1104{rng.randint(10**10, 10**11 - 1)}"}],
                 "name": [{"use": "official", "family": family, "given": [given],
                           "text": family + given}],
                 "gender": "female" if female else "male",
                 "telecom": [{"system": "phone", "value": f"{area}-{rng.randint(20000000, 89999999)}",
                              "use": "work"}],
                 "qualification": [{"code": {"text": title}}]}, pid)
            service = next(s for s, d in SERVICE_IDS[key] if d == dept)
            role_codes = [concept("http://terminology.hl7.org/CodeSystem/practitioner-role", "doctor",
                                  "Doctor", title)]
            if title != "主治医师":
                role_codes.append(concept(BASE + "/CodeSystem/practitioner-role", "expert",
                                          "联盟专家 Alliance expert"))
            add({"resourceType": "PractitionerRole", "active": True,
                 "practitioner": ref(f"Practitioner/{pid}", family + given),
                 "organization": ref(f"Organization/{key}", name),
                 "code": role_codes,
                 "specialty": [concept(SCT, code, display, zh)],
                 "healthcareService": [ref(f"HealthcareService/{service}")]}, f"role-{pid}")
            practitioners.append((pid, f"role-{pid}", key, dept))

ROLES_BY_MEMBER = {}
for pid, role, key, dept in practitioners:
    ROLES_BY_MEMBER.setdefault(key, {}).setdefault(dept, []).append(role)

LABS = [("2345-7", "Glucose [Moles/volume] in Serum or Plasma", "mmol/L", 3.9, 9.0),
        ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 3.4, 5.2),
        ("2160-0", "Creatinine [Moles/volume] in Serum or Plasma", "umol/L", 50, 120),
        ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/L", 110, 170),
        ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 4.5, 8.5),
        ("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
         "U/L", 7, 60),
        ("2093-3", "Cholesterol [Moles/volume] in Serum or Plasma", "mmol/L", 3.0, 7.0)]
IMAGING = [("24627-2", "Chest CT", "CT", "胸部CT", "双肺纹理清晰，未见明显实质性病变。No acute abnormality."),
           ("24725-4", "CT Head", "CT", "头颅CT", "颅内未见出血及占位。No haemorrhage or mass."),
           ("24590-2", "MR Brain", "MR", "头颅磁共振", "未见急性梗死灶。No acute infarct."),
           ("30746-2", "Chest X-ray", "DX", "胸部X线", "心肺膈未见异常。Heart and lungs normal.")]

HOSPITALS = [m for m in MEMBERS if m[6] != "chc"]
CHCS = [m for m in MEMBERS if m[6] == "chc"]
MEMBER_BY_KEY = {m[0]: m for m in MEMBERS}

n_obs = 0


def lab_report(patient_id, member_key, day, tag):
    global n_obs
    member = MEMBER_BY_KEY[member_key]
    lab = f"{member_key}-lab" if "lab" in member[7] else member_key
    results = []
    for code, display, unit, low, high in rng.sample(LABS, 3):
        n_obs += 1
        obs_id = f"obs-{n_obs:04d}"
        value = round(rng.uniform(low, high), 1)
        add({"resourceType": "Observation", "status": "final",
             "category": [concept("http://terminology.hl7.org/CodeSystem/observation-category",
                                  "laboratory", "Laboratory")],
             "code": concept(LOINC, code, display),
             "subject": ref(f"Patient/{patient_id}"),
             "effectiveDateTime": day + "T08:30:00+08:00", "issued": day + "T11:00:00+08:00",
             "performer": [ref(f"Organization/{lab}")],
             "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org",
                               "code": unit}}, obs_id)
        results.append(ref(f"Observation/{obs_id}"))
    report = {"resourceType": "DiagnosticReport", "status": "final",
              "category": [concept("http://terminology.hl7.org/CodeSystem/v2-0074", "LAB",
                                   "Laboratory")],
              "code": concept(LOINC, "11502-2", "Laboratory report", "检验报告"),
              "subject": ref(f"Patient/{patient_id}"),
              "effectiveDateTime": day + "T08:30:00+08:00", "issued": day + "T11:00:00+08:00",
              "performer": [ref(f"Organization/{lab}", member[1])], "result": results}
    interpreters = ROLES_BY_MEMBER.get(member_key, {}).get("lab")
    if interpreters:
        report["resultsInterpreter"] = [ref(f"PractitionerRole/{interpreters[0]}")]
    add(report, f"dr-{patient_id}-{tag}")


def imaging(patient_id, member_key, day, tag):
    member = MEMBER_BY_KEY[member_key]
    code, display, modality, zh, conclusion = rng.choice(IMAGING)
    study_id = f"is-{patient_id}-{tag}"
    uid = f"2.25.{rng.randint(10**20, 10**21)}"
    add({"resourceType": "ImagingStudy", "status": "available",
         "identifier": [{"system": "urn:dicom:uid", "value": "urn:oid:" + uid}],
         "modality": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": modality}],
         "subject": ref(f"Patient/{patient_id}"),
         "started": day + "T10:00:00+08:00", "numberOfSeries": 1,
         "description": zh,
         "series": [{"uid": uid + ".1", "number": 1,
                     "modality": {"system": "http://dicom.nema.org/resources/ontology/DCM",
                                  "code": modality},
                     "performer": [{"actor": ref(f"Organization/{member_key}-rad", member[1])}]}]},
        study_id)
    report = {"resourceType": "DiagnosticReport", "status": "final",
              "category": [concept("http://terminology.hl7.org/CodeSystem/v2-0074", "RAD",
                                   "Radiology")],
              "code": concept(LOINC, code, display, zh),
              "subject": ref(f"Patient/{patient_id}"),
              "effectiveDateTime": day + "T10:00:00+08:00", "issued": day + "T15:00:00+08:00",
              "performer": [ref(f"Organization/{member_key}-rad", member[1])],
              "imagingStudy": [ref(f"ImagingStudy/{study_id}")],
              "conclusion": conclusion}
    readers = ROLES_BY_MEMBER.get(member_key, {}).get("rad")
    if readers:
        report["resultsInterpreter"] = [ref(f"PractitionerRole/{rng.choice(readers)}")]
    add(report, f"dr-{patient_id}-{tag}")


PINYIN = {"王": "WANG", "李": "LI", "张": "ZHANG", "刘": "LIU", "陈": "CHEN", "杨": "YANG",
          "黄": "HUANG", "赵": "ZHAO", "吴": "WU", "周": "ZHOU", "伟": "WEI", "强": "QIANG",
          "芳": "FANG", "娜": "NA", "敏": "MIN", "静": "JING", "磊": "LEI", "军": "JUN",
          "勇": "YONG", "洋": "YANG"}

MRN_NEXT = {}


def mrn(member_key):
    MRN_NEXT[member_key] = MRN_NEXT.get(member_key, 100000) + 1
    return f"MRN{MRN_NEXT[member_key] - 1}"


def patient(pid, member_key, family, given, female, birth, rid, phone, home, name_latin=None):
    member = MEMBER_BY_KEY[member_key]
    identifiers = [{"use": "usual",
                    "type": concept("http://terminology.hl7.org/CodeSystem/v2-0203", "MR",
                                    "Medical record number"),
                    "system": f"{BASE}/sid/mrn/{member_key}", "value": mrn(member_key)}]
    if rid:
        identifiers.append({"use": "official",
                            "type": concept("http://terminology.hl7.org/CodeSystem/v2-0203",
                                            "NI", "National unique individual identifier"),
                            "system": RID, "value": rid})
    name = ({"use": "official", "family": family, "given": [given], "text": family + given}
            if not name_latin else {"use": "official", "text": name_latin,
                                    "family": name_latin.split()[0],
                                    "given": name_latin.split()[1:]})
    add({"resourceType": "Patient", "active": True, "identifier": identifiers, "name": [name],
         "gender": "female" if female else "male", "birthDate": birth,
         "telecom": [{"system": "phone", "value": phone, "use": "mobile"}],
         "address": [{"use": "home", "city": home[3], "district": home[4], "state": "广东省",
                      "country": "CN"}],
         "managingOrganization": ref(f"Organization/{member_key}", member[1])}, pid)


# Thirty people. Each is registered at a home member; every third also at a member of the other
# city (same resident ID, another record number); two more are registered there by a pinyin
# name without an identity number (same phone and birth date) — all linked by the MPI.
people = 30
referrals = 0
for n in range(people):
    female = n % 2 == 1
    family = FAMILY[n % 12] if n < 12 else rng.choice(FAMILY)
    given = (GIVEN_F if female else GIVEN_M)[n % 6] if n < 12 else \
        rng.choice(GIVEN_F if female else GIVEN_M)
    birth = f"{1940 + (n * 7) % 60}-{n % 12 + 1:02d}-{(n * 11) % 28 + 1:02d}"
    home = MEMBERS[(n * 5) % len(MEMBERS)]
    rid = resident_id(home[5], birth, n + 11, female)
    phone = f"1{rng.choice('3589')}{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}"
    pid = f"pat-{n + 1:02d}"
    patient(pid, home[0], family, given, female, birth, rid, phone, home)
    day = f"2026-{n % 10 + 1:02d}-{(n * 3) % 27 + 1:02d}"
    lab_report(pid, home[0], day, "lab1")
    if home[6] != "chc":
        imaging(pid, home[0], day, "img1")
    # A second hospital: shares the record through the alliance.
    other_city = "深圳市" if home[3] == "广州市" else "广州市"
    hospitals = [m for m in HOSPITALS if m[3] == (other_city if n % 3 == 0 else home[3])
                 and m[0] != home[0]]
    second = hospitals[n % len(hospitals)]
    day2 = f"2026-{n % 10 + 2:02d}-{(n * 5) % 27 + 1:02d}"
    if n % 3 == 0 or n in (4, 8):
        pid2 = f"pat-{n + 1:02d}b"
        latin = n in (4, 8) and family in PINYIN and given in PINYIN
        patient(pid2, second[0], family, given, female, birth, None if latin else rid, phone,
                home, f"{PINYIN[family]} {PINYIN[given]}" if latin else None)
        lab_report(pid2, second[0], day2, "lab2")
        imaging(pid2, second[0], day2, "img2")
    else:
        # Seen at the second member without registering there: a report under the home record.
        lab_report(pid, second[0], day2, "lab2")
    # Referrals up from a community health centre to a hospital of the same city.
    if home[6] == "chc" and "gp" in home[7] and referrals < 6:
        referrals += 1
        target = [m for m in HOSPITALS if m[3] == home[3]][referrals % 3]
        gp = ROLES_BY_MEMBER[home[0]]["gp"][0]
        add({"resourceType": "ServiceRequest", "status": "active", "intent": "order",
             "category": [concept(SCT, "3457005", "Patient referral", "转诊")],
             "priority": "routine",
             "code": concept(SCT, "306206005", "Referral to service", "上转专科门诊"),
             "subject": ref(f"Patient/{pid}"),
             "authoredOn": day + "T09:00:00+08:00",
             "requester": ref(f"PractitionerRole/{gp}"),
             "performer": [ref(f"Organization/{target[0]}", target[1])],
             "reasonCode": [{"text": "血压控制不佳，转上级医院心内科评估 / poorly controlled hypertension"}]},
            f"sr-{pid}")

bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
# One entry per line: small, and diffs stay readable.
print('{"resourceType":"Bundle","type":"transaction","entry":[')
print(",\n".join(json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in entries))
print("]}")
