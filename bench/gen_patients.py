#!/usr/bin/env python3
"""Writes FHIR R4 transaction Bundles of generated patients for the import and read benchmarks.

Each patient has a resident id and an MRN, a Chinese name, about 5 Encounters, about 30 laboratory
Observations (LOINC codes, valueQuantity with decimal text such as 5.60), about 6 DiagnosticReports
that reference their Observations, and one to three Conditions. Entries are POSTs whose fullUrl is
a urn:uuid, so the server assigns ids and rewrites the references inside the Bundle.

The output depends only on the options: the same --seed gives byte-identical files.
Python 3 standard library only.

  bench/gen_patients.py --patients 2000 --per-bundle 10 --out /tmp/ma-bench/data
"""

import argparse
import datetime
import json
import os
import random
import sys
import uuid

HOSPITALS = [
    # (MRN system suffix, region codes for resident ids, city)
    ("gz-central", ["440103", "440104", "440106"], "广州市"),
    ("gz-women-children", ["440111", "440112"], "广州市"),
    ("sz-people", ["440303", "440304", "440305"], "深圳市"),
    ("sz-university", ["440306", "440307"], "深圳市"),
]
FAMILY_NAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢"
GIVEN_CHARS = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志强文军红梅玉兰晓东海燕婷雪慧俊鹏宇浩然子涵欣怡梓萱"
STREETS = ["天河路", "中山大道", "环市东路", "深南大道", "华强北路", "滨海大道", "广州大道北", "科苑路"]

UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"

# LOINC panels: (report code, report display, [(code, display, unit, low, high, decimals)]).
PANELS = [
    ("58410-2", "CBC panel - Blood by Automated count", [
        ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/L", 110, 170, 0),
        ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*9/L", 3.5, 11.0, 2),
        ("789-8", "Erythrocytes [#/volume] in Blood by Automated count", "10*12/L", 3.8, 5.9, 2),
        ("777-3", "Platelets [#/volume] in Blood by Automated count", "10*9/L", 120, 380, 0),
        ("4544-3", "Hematocrit [Volume Fraction] of Blood by Automated count", "%", 34.0, 50.0, 1),
    ]),
    ("51990-0", "Basic metabolic panel - Blood", [
        ("2345-7", "Glucose [Moles/volume] in Serum or Plasma", "mmol/L", 3.9, 11.0, 2),
        ("2160-0", "Creatinine [Moles/volume] in Serum or Plasma", "umol/L", 45, 130, 1),
        ("3094-0", "Urea nitrogen [Moles/volume] in Serum or Plasma", "mmol/L", 2.5, 8.5, 2),
        ("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 133, 147, 1),
        ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 3.3, 5.4, 2),
    ]),
    ("57698-3", "Lipid panel with direct LDL - Serum or Plasma", [
        ("2093-3", "Cholesterol [Moles/volume] in Serum or Plasma", "mmol/L", 3.0, 7.5, 2),
        ("2571-8", "Triglyceride [Moles/volume] in Serum or Plasma", "mmol/L", 0.5, 4.0, 2),
        ("2085-9", "HDL Cholesterol [Moles/volume] in Serum or Plasma", "mmol/L", 0.8, 2.2, 2),
        ("18262-6", "LDL Cholesterol [Moles/volume] in Serum or Plasma by Direct assay",
         "mmol/L", 1.5, 5.0, 2),
        ("9830-1", "Cholesterol.total/Cholesterol in HDL [Molar ratio] in Serum or Plasma",
         "{ratio}", 2.0, 6.0, 1),
    ]),
    ("24325-3", "Hepatic function panel - Serum or Plasma", [
        ("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
         "U/L", 7, 80, 0),
        ("1920-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
         "U/L", 10, 70, 0),
        ("14631-6", "Bilirubin.total [Moles/volume] in Serum or Plasma", "umol/L", 3.0, 30.0, 1),
        ("1751-7", "Albumin [Mass/volume] in Serum or Plasma", "g/L", 32.0, 52.0, 1),
        ("6768-6", "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma",
         "U/L", 40, 150, 0),
    ]),
    ("24362-6", "Renal function panel - Serum or Plasma", [
        ("2160-0", "Creatinine [Moles/volume] in Serum or Plasma", "umol/L", 45, 130, 1),
        ("3084-1", "Urate [Moles/volume] in Serum or Plasma", "umol/L", 150, 480, 0),
        ("33914-3", "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in "
         "Serum or Plasma by Creatinine-based formula (MDRD)", "mL/min/{1.73_m2}", 45, 130, 0),
        ("2947-0", "Sodium [Moles/volume] in Blood", "mmol/L", 133, 147, 1),
        ("6298-4", "Potassium [Moles/volume] in Blood", "mmol/L", 3.3, 5.4, 2),
    ]),
    ("55231-5", "Electrolytes panel - Blood", [
        ("2075-0", "Chloride [Moles/volume] in Serum or Plasma", "mmol/L", 95, 110, 1),
        ("1963-8", "Bicarbonate [Moles/volume] in Serum or Plasma", "mmol/L", 20, 30, 1),
        ("17861-6", "Calcium [Mass/volume] in Serum or Plasma", "mg/dL", 8.4, 10.4, 2),
        ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 4.5, 9.5, 1),
        ("3016-3", "Thyrotropin [Units/volume] in Serum or Plasma", "m[IU]/L", 0.3, 5.5, 2),
    ]),
]

# (ICD-10 code, display) for Conditions.
CONDITIONS = [
    ("I10", "原发性高血压"),
    ("E11.9", "2型糖尿病，无并发症"),
    ("E78.5", "高脂血症"),
    ("K76.0", "脂肪肝"),
    ("N18.3", "慢性肾脏病3期"),
    ("J44.9", "慢性阻塞性肺疾病"),
    ("I25.1", "动脉粥样硬化性心脏病"),
    ("E03.9", "甲状腺功能减退症"),
]
ICD10 = "http://hl7.org/fhir/sid/icd-10"

ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
ID_CHECK = "10X98765432"

# json.dumps cannot write "5.60" as a number; decimals are written as tagged strings first and
# the tags are removed afterwards, so the file carries the exact decimal text.
DECIMAL_TAG = "\u0001dec:"


def decimal(value, places):
    return DECIMAL_TAG + f"{value:.{places}f}"


def resident_id(rng, region, birth, gender):
    # The 17th character is odd for men and even for women (GB 11643).
    order = rng.randrange(500) * 2 + (1 if gender == "male" else 0)
    body = region + birth.strftime("%Y%m%d") + f"{order:03d}"
    total = sum(int(digit) * weight for digit, weight in zip(body, ID_WEIGHTS))
    return body + ID_CHECK[total % 11]


def stamp(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S+08:00")


def reference(full_url):
    return {"reference": full_url}


def coding(system, code, display):
    return {"system": system, "code": code, "display": display}


class Generator:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.mrn_counter = 100000

    def new_uuid(self):
        return "urn:uuid:" + str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def patient(self, hospital):
        rng = self.rng
        mrn_suffix, regions, city = hospital
        gender = rng.choice(["male", "female"])
        birth = datetime.date(1935, 1, 1) + datetime.timedelta(days=rng.randrange(80 * 365))
        family = rng.choice(FAMILY_NAMES)
        given = "".join(rng.choice(GIVEN_CHARS) for _ in range(rng.choice([1, 2])))
        self.mrn_counter += 1
        return {
            "resourceType": "Patient",
            "identifier": [
                {
                    "use": "official",
                    "type": {"coding": [coding(
                        "http://terminology.hl7.org/CodeSystem/v2-0203", "NI",
                        "National unique individual identifier")]},
                    "system": "https://fhir.medalliance.cn/sid/resident-id",
                    "value": resident_id(rng, rng.choice(regions), birth, gender),
                },
                {
                    "use": "usual",
                    "type": {"coding": [coding(
                        "http://terminology.hl7.org/CodeSystem/v2-0203", "MR",
                        "Medical record number")]},
                    "system": "https://fhir.medalliance.cn/sid/mrn/" + mrn_suffix,
                    "value": f"MRN{self.mrn_counter}",
                },
            ],
            "active": True,
            "name": [{"use": "official", "text": family + given, "family": family,
                      "given": [given]}],
            "telecom": [{"system": "phone", "value": "1" + rng.choice("3578") +
                         f"{rng.randrange(10**9):09d}", "use": "mobile"}],
            "gender": gender,
            "birthDate": birth.isoformat(),
            "address": [{"use": "home", "line": [f"{rng.choice(STREETS)}{rng.randrange(1, 999)}号"],
                         "city": city, "state": "广东省", "country": "CN"}],
        }

    def encounter(self, patient_url, start, inpatient):
        end = start + (datetime.timedelta(days=self.rng.randrange(2, 9)) if inpatient
                       else datetime.timedelta(minutes=self.rng.randrange(15, 90)))
        act = ("IMP", "inpatient encounter") if inpatient else ("AMB", "ambulatory")
        return {
            "resourceType": "Encounter",
            "status": "finished",
            "class": coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", *act),
            "type": [{"coding": [coding("http://snomed.info/sct", "185349003",
                                        "Encounter for check up")]}],
            "subject": reference(patient_url),
            "period": {"start": stamp(start), "end": stamp(end)},
        }

    def observation(self, patient_url, encounter_url, item, when):
        code, display, unit, low, high, places = item
        rng = self.rng
        span = high - low
        value = rng.uniform(low - span * 0.1, high + span * 0.1)
        obs = {
            "resourceType": "Observation",
            "status": "final",
            "category": [{"coding": [coding(
                "http://terminology.hl7.org/CodeSystem/observation-category", "laboratory",
                "Laboratory")]}],
            "code": {"coding": [coding(LOINC, code, display)], "text": display},
            "subject": reference(patient_url),
            "encounter": reference(encounter_url),
            "effectiveDateTime": stamp(when),
            "issued": stamp(when + datetime.timedelta(hours=rng.randrange(1, 6))),
            "valueQuantity": {"value": decimal(value, places), "unit": unit, "system": UCUM,
                              "code": unit},
            "referenceRange": [{"low": {"value": decimal(low, places), "unit": unit,
                                        "system": UCUM, "code": unit},
                                "high": {"value": decimal(high, places), "unit": unit,
                                         "system": UCUM, "code": unit}}],
        }
        if value < low or value > high:
            flag = ("L", "Low") if value < low else ("H", "High")
            obs["interpretation"] = [{"coding": [coding(
                "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", *flag)]}]
        return obs

    def report(self, patient_url, encounter_url, panel, when, result_urls):
        code, display, _ = panel
        return {
            "resourceType": "DiagnosticReport",
            "status": "final",
            "category": [{"coding": [coding("http://terminology.hl7.org/CodeSystem/v2-0074",
                                            "LAB", "Laboratory")]}],
            "code": {"coding": [coding(LOINC, code, display)], "text": display},
            "subject": reference(patient_url),
            "encounter": reference(encounter_url),
            "effectiveDateTime": stamp(when),
            "issued": stamp(when + datetime.timedelta(hours=6)),
            "result": [reference(url) for url in result_urls],
        }

    def condition(self, patient_url, encounter_url, diagnosis, onset):
        code, display = diagnosis
        return {
            "resourceType": "Condition",
            "clinicalStatus": {"coding": [coding(
                "http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active")]},
            "verificationStatus": {"coding": [coding(
                "http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed",
                "Confirmed")]},
            "category": [{"coding": [coding(
                "http://terminology.hl7.org/CodeSystem/condition-category", "encounter-diagnosis",
                "Encounter Diagnosis")]}],
            "code": {"coding": [coding(ICD10, code, display)], "text": display},
            "subject": reference(patient_url),
            "encounter": reference(encounter_url),
            "onsetDateTime": onset.isoformat(),
            "recordedDate": onset.isoformat(),
        }

    def patient_entries(self):
        """Returns [(fullUrl, resource)] for one patient and their records."""
        rng = self.rng
        out = []
        patient_url = self.new_uuid()
        out.append((patient_url, self.patient(rng.choice(HOSPITALS))))
        # 6 lab reports over 4-6 encounters (most encounters have one report, some two).
        encounter_count = rng.choice([4, 5, 5, 5, 6])
        visit = datetime.datetime(2021, 1, 1, 8, 0) + datetime.timedelta(
            days=rng.randrange(365), minutes=rng.randrange(0, 240))
        encounters = []
        for _ in range(encounter_count):
            url = self.new_uuid()
            out.append((url, self.encounter(patient_url, visit, rng.random() < 0.15)))
            encounters.append((url, visit))
            visit += datetime.timedelta(days=rng.randrange(30, 200), minutes=rng.randrange(-60, 60))
        for index in range(6):
            encounter_url, when = encounters[index % encounter_count]
            when = when + datetime.timedelta(minutes=rng.randrange(10, 60))
            panel = rng.choice(PANELS)
            result_urls = []
            for item in panel[2]:
                url = self.new_uuid()
                out.append((url, self.observation(patient_url, encounter_url, item, when)))
                result_urls.append(url)
            out.append((self.new_uuid(),
                        self.report(patient_url, encounter_url, panel, when, result_urls)))
        for diagnosis in rng.sample(CONDITIONS, rng.choice([1, 2, 2, 3])):
            encounter_url, when = rng.choice(encounters)
            out.append((self.new_uuid(),
                        self.condition(patient_url, encounter_url, diagnosis, when.date())))
        return out


def bundle_text(entries):
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"fullUrl": url, "resource": resource,
                   "request": {"method": "POST", "url": resource["resourceType"]}}
                  for url, resource in entries],
    }
    text = json.dumps(bundle, ensure_ascii=False, separators=(",", ":"))
    # "\u0001dec:5.60" (json-escaped) -> 5.60
    escaped_tag = json.dumps(DECIMAL_TAG)[1:-1]
    parts = text.split('"' + escaped_tag)
    out = [parts[0]]
    for part in parts[1:]:
        end = part.index('"')
        out.append(part[:end])
        out.append(part[end + 1:])
    return "".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=2000, help="number of patients")
    parser.add_argument("--per-bundle", type=int, default=10, help="patients per Bundle file")
    parser.add_argument("--out", required=True, help="output folder (created)")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    args = parser.parse_args()
    if args.patients < 1 or args.per_bundle < 1:
        parser.error("--patients and --per-bundle must be positive")
    os.makedirs(args.out, exist_ok=True)
    generator = Generator(args.seed)
    files = (args.patients + args.per_bundle - 1) // args.per_bundle
    width = max(5, len(str(files)))
    resources = 0
    total_bytes = 0
    for number in range(files):
        count = min(args.per_bundle, args.patients - number * args.per_bundle)
        entries = []
        for _ in range(count):
            entries.extend(generator.patient_entries())
        text = bundle_text(entries).encode("utf-8")
        path = os.path.join(args.out, f"patients-{number + 1:0{width}d}.json")
        with open(path, "wb") as out:
            out.write(text)
        resources += len(entries)
        total_bytes += len(text)
    print(f"wrote {resources} resources for {args.patients} patients in {files} files "
          f"({total_bytes / 1e6:.1f} MB) to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
