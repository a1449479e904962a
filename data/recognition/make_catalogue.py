#!/usr/bin/env python3
"""Writes data/recognition/catalogue.json: the seeded recognition catalogue as one FHIR R4
CodeSystem (https://fhir.medalliance.cn/CodeSystem/recognition-item). See README.md here and
doc/recognition.md. Run from the repository root: python3 data/recognition/make_catalogue.py
"""
import json
import pathlib

DATE = "2026-11-26"
LOINC = "http://loinc.org"
# Validity-day sources: "example" = the example figures the national/provincial guidance is
# quoted with in issue 6 (electrolytes 7 days, most chemistry 30 days, HbA1c 60 days);
# "seeded" = a default chosen for this catalogue, to be replaced by the province's table.
EX, SD = "example", "seeded"

SERUM = ("119364003", "Serum specimen", "血清")
PLASMA_CIT = ("119361006", "Plasma specimen", "枸橼酸钠抗凝血浆")  # citrated
BLOOD = ("119297000", "Blood specimen", "全血（EDTA抗凝）")
URINE = ("122575003", "Urine specimen", "尿液")

# code, LOINC (first = primary, others equivalent), name zh, name en, qc group, specimen,
# validity days, validity source, price yuan, method (or "")
LAB = [
    # blood count (haematology)
    ("lab-cbc", ["58410-2"], "血常规（全血细胞计数）", "Complete blood count panel", "haematology", BLOOD, 7, SD, "20", "automated count"),
    ("lab-wbc", ["6690-2"], "白细胞计数", "Leukocytes in blood", "haematology", BLOOD, 7, SD, "3", "automated count"),
    ("lab-rbc", ["789-8"], "红细胞计数", "Erythrocytes in blood", "haematology", BLOOD, 7, SD, "3", "automated count"),
    ("lab-hgb", ["718-7"], "血红蛋白", "Hemoglobin in blood", "haematology", BLOOD, 7, SD, "3", ""),
    ("lab-hct", ["4544-3", "20570-8"], "红细胞压积", "Hematocrit of blood", "haematology", BLOOD, 7, SD, "3", ""),
    ("lab-mcv", ["787-2"], "平均红细胞体积", "Erythrocyte mean corpuscular volume", "haematology", BLOOD, 7, SD, "2", "automated count"),
    ("lab-mch", ["785-6"], "平均红细胞血红蛋白量", "Erythrocyte mean corpuscular hemoglobin", "haematology", BLOOD, 7, SD, "2", "automated count"),
    ("lab-mchc", ["786-4"], "平均红细胞血红蛋白浓度", "Erythrocyte mean corpuscular hemoglobin concentration", "haematology", BLOOD, 7, SD, "2", "automated count"),
    ("lab-plt", ["777-3"], "血小板计数", "Platelets in blood", "haematology", BLOOD, 7, SD, "3", "automated count"),
    ("lab-neut-pct", ["770-8"], "中性粒细胞百分比", "Neutrophils/100 leukocytes in blood", "haematology", BLOOD, 7, SD, "2", "automated count"),
    ("lab-lymph-pct", ["736-9"], "淋巴细胞百分比", "Lymphocytes/100 leukocytes in blood", "haematology", BLOOD, 7, SD, "2", "automated count"),
    ("lab-esr", ["4537-7"], "红细胞沉降率", "Erythrocyte sedimentation rate by Westergren", "haematology", BLOOD, 7, SD, "8", "Westergren"),
    # liver function (chemistry)
    ("lab-liver-panel", ["24325-3"], "肝功能", "Hepatic function panel", "chemistry", SERUM, 30, EX, "45", ""),
    ("lab-alt", ["1742-6"], "丙氨酸氨基转移酶", "Alanine aminotransferase", "chemistry", SERUM, 30, EX, "5", ""),
    ("lab-ast", ["1920-8"], "天门冬氨酸氨基转移酶", "Aspartate aminotransferase", "chemistry", SERUM, 30, EX, "5", ""),
    ("lab-alp", ["6768-6"], "碱性磷酸酶", "Alkaline phosphatase", "chemistry", SERUM, 30, EX, "5", ""),
    ("lab-ggt", ["2324-2"], "γ-谷氨酰转移酶", "Gamma glutamyl transferase", "chemistry", SERUM, 30, EX, "5", ""),
    ("lab-tbil", ["1975-2", "14631-6"], "总胆红素", "Bilirubin total", "chemistry", SERUM, 30, EX, "5", ""),
    ("lab-dbil", ["1968-7", "14629-0"], "直接胆红素", "Bilirubin direct", "chemistry", SERUM, 30, EX, "5", ""),
    ("lab-tp", ["2885-2"], "总蛋白", "Protein total", "chemistry", SERUM, 30, EX, "4", ""),
    ("lab-alb", ["1751-7"], "白蛋白", "Albumin", "chemistry", SERUM, 30, EX, "4", ""),
    # kidney function
    ("lab-renal-panel", ["24362-6"], "肾功能", "Renal function panel", "chemistry", SERUM, 30, EX, "30", ""),
    ("lab-bun", ["3094-0", "22664-7"], "尿素（氮）", "Urea nitrogen / urea", "chemistry", SERUM, 30, EX, "5", ""),
    ("lab-crea", ["2160-0", "14682-9"], "肌酐", "Creatinine", "chemistry", SERUM, 30, EX, "5", "enzymatic"),
    ("lab-ua", ["3084-1", "14933-6"], "尿酸", "Urate", "chemistry", SERUM, 30, EX, "5", ""),
    ("lab-egfr", ["33914-3"], "估算肾小球滤过率", "eGFR (creatinine-based, MDRD)", "chemistry", SERUM, 30, EX, "0", ""),
    # electrolytes (7 days)
    ("lab-lyte-panel", ["24326-1"], "电解质", "Electrolytes panel", "chemistry", SERUM, 7, EX, "20", ""),
    ("lab-na", ["2951-2"], "钠", "Sodium", "chemistry", SERUM, 7, EX, "4", "ion-selective electrode"),
    ("lab-k", ["2823-3"], "钾", "Potassium", "chemistry", SERUM, 7, EX, "4", "ion-selective electrode"),
    ("lab-cl", ["2075-0"], "氯", "Chloride", "chemistry", SERUM, 7, EX, "4", "ion-selective electrode"),
    ("lab-co2", ["2028-9"], "总二氧化碳", "Carbon dioxide total", "chemistry", SERUM, 7, EX, "4", ""),
    ("lab-ca", ["17861-6", "2000-8"], "钙", "Calcium", "chemistry", SERUM, 7, EX, "4", ""),
    ("lab-phos", ["2777-1", "14879-1"], "无机磷", "Phosphate", "chemistry", SERUM, 7, EX, "4", ""),
    ("lab-mg", ["19123-9", "2601-3"], "镁", "Magnesium", "chemistry", SERUM, 7, EX, "4", ""),
    # glucose
    ("lab-glu", ["2345-7", "14749-6"], "葡萄糖", "Glucose", "chemistry", SERUM, 30, EX, "4", "glucose oxidase / hexokinase"),
    ("lab-glu-fasting", ["1558-6", "14771-0"], "空腹血糖", "Fasting glucose", "chemistry", SERUM, 30, EX, "4", ""),
    ("lab-hba1c", ["4548-4", "17856-6"], "糖化血红蛋白", "Hemoglobin A1c/Hemoglobin.total in blood", "chemistry", BLOOD, 60, EX, "60", "HPLC"),
    # lipids
    ("lab-lipid-panel", ["57698-3", "24331-1"], "血脂四项", "Lipid panel", "chemistry", SERUM, 30, EX, "40", ""),
    ("lab-chol", ["2093-3", "14647-2"], "总胆固醇", "Cholesterol total", "chemistry", SERUM, 30, EX, "5", ""),
    ("lab-tg", ["2571-8", "14927-8"], "甘油三酯", "Triglyceride", "chemistry", SERUM, 30, EX, "5", ""),
    ("lab-hdl", ["2085-9", "14646-4"], "高密度脂蛋白胆固醇", "HDL cholesterol", "chemistry", SERUM, 30, EX, "8", ""),
    ("lab-ldl", ["18262-6", "13457-7"], "低密度脂蛋白胆固醇", "LDL cholesterol", "chemistry", SERUM, 30, EX, "8", ""),
    # cardiac / enzymes
    ("lab-ck", ["2157-6"], "肌酸激酶", "Creatine kinase", "chemistry", SERUM, 30, EX, "5", ""),
    ("lab-ldh", ["2532-0"], "乳酸脱氢酶", "Lactate dehydrogenase", "chemistry", SERUM, 30, EX, "5", ""),
    ("lab-amy", ["1798-8"], "淀粉酶", "Amylase", "chemistry", SERUM, 30, EX, "10", ""),
    ("lab-fe", ["2498-4"], "血清铁", "Iron", "chemistry", SERUM, 30, EX, "8", ""),
    ("lab-ckmb", ["13969-1"], "肌酸激酶同工酶（质量）", "Creatine kinase MB mass", "immunology", SERUM, 1, SD, "40", "immunoassay"),
    ("lab-tnt", ["6598-7"], "心肌肌钙蛋白T", "Troponin T cardiac", "immunology", SERUM, 1, SD, "80", "immunoassay"),
    ("lab-tni", ["10839-9"], "心肌肌钙蛋白I", "Troponin I cardiac", "immunology", SERUM, 1, SD, "80", "immunoassay"),
    ("lab-hs-tni", ["89579-7"], "高敏心肌肌钙蛋白I", "Troponin I cardiac, high sensitivity", "immunology", SERUM, 1, SD, "100", "high sensitivity immunoassay"),
    ("lab-ntprobnp", ["33762-6"], "N末端脑钠肽前体", "NT-proBNP", "immunology", SERUM, 7, SD, "180", "immunoassay"),
    ("lab-crp", ["1988-5"], "C反应蛋白", "C reactive protein", "immunology", SERUM, 3, SD, "15", ""),
    ("lab-pct", ["33959-8"], "降钙素原", "Procalcitonin", "immunology", SERUM, 3, SD, "150", "immunoassay"),
    ("lab-ferritin", ["2276-4"], "铁蛋白", "Ferritin", "immunology", SERUM, 30, SD, "30", "immunoassay"),
    # coagulation
    ("lab-pt", ["5902-2"], "凝血酶原时间", "Prothrombin time", "coagulation", PLASMA_CIT, 7, SD, "10", "coagulation assay"),
    ("lab-inr", ["6301-6"], "国际标准化比值", "INR", "coagulation", PLASMA_CIT, 7, SD, "5", "coagulation assay"),
    ("lab-aptt", ["14979-9"], "活化部分凝血活酶时间", "aPTT", "coagulation", PLASMA_CIT, 7, SD, "10", "coagulation assay"),
    ("lab-fib", ["3255-7"], "纤维蛋白原", "Fibrinogen", "coagulation", PLASMA_CIT, 7, SD, "10", "Clauss"),
    ("lab-tt", ["3243-3"], "凝血酶时间", "Thrombin time", "coagulation", PLASMA_CIT, 7, SD, "10", "coagulation assay"),
    ("lab-ddimer", ["48065-7"], "D-二聚体", "Fibrin D-dimer FEU", "coagulation", PLASMA_CIT, 3, SD, "60", "immunoturbidimetry"),
    # thyroid
    ("lab-tsh", ["3016-3"], "促甲状腺激素", "Thyrotropin (TSH)", "immunology", SERUM, 30, EX, "30", "immunoassay"),
    ("lab-ft4", ["3024-7"], "游离甲状腺素", "Thyroxine free", "immunology", SERUM, 30, EX, "30", "immunoassay"),
    ("lab-ft3", ["3051-0"], "游离三碘甲状腺原氨酸", "Triiodothyronine free", "immunology", SERUM, 30, EX, "30", "immunoassay"),
    ("lab-t4", ["3026-2"], "总甲状腺素", "Thyroxine", "immunology", SERUM, 30, EX, "25", "immunoassay"),
    ("lab-t3", ["3053-6"], "总三碘甲状腺原氨酸", "Triiodothyronine", "immunology", SERUM, 30, EX, "25", "immunoassay"),
    # tumour markers
    ("lab-afp", ["1834-1"], "甲胎蛋白", "Alpha-1-fetoprotein", "immunology", SERUM, 90, SD, "40", "immunoassay"),
    ("lab-cea", ["2039-6"], "癌胚抗原", "Carcinoembryonic Ag", "immunology", SERUM, 90, SD, "40", "immunoassay"),
    ("lab-ca125", ["10334-1"], "糖类抗原125", "Cancer Ag 125", "immunology", SERUM, 90, SD, "60", "immunoassay"),
    ("lab-ca199", ["24108-3"], "糖类抗原19-9", "Cancer Ag 19-9", "immunology", SERUM, 90, SD, "60", "immunoassay"),
    ("lab-ca153", ["6875-9"], "糖类抗原15-3", "Cancer Ag 15-3", "immunology", SERUM, 90, SD, "60", "immunoassay"),
    ("lab-psa", ["2857-1"], "前列腺特异性抗原", "Prostate specific Ag", "immunology", SERUM, 90, SD, "50", "immunoassay"),
    ("lab-fpsa", ["10886-0"], "游离前列腺特异性抗原", "Prostate specific Ag free", "immunology", SERUM, 90, SD, "50", "immunoassay"),
    # hepatitis B markers
    ("lab-hbsag", ["5196-1"], "乙肝表面抗原", "Hepatitis B virus surface Ag", "immunology", SERUM, 180, SD, "15", "immunoassay"),
    ("lab-hbsab", ["5193-8"], "乙肝表面抗体", "Hepatitis B virus surface Ab", "immunology", SERUM, 180, SD, "15", "immunoassay"),
    ("lab-hbeag", ["13954-3"], "乙肝e抗原", "Hepatitis B virus e Ag", "immunology", SERUM, 180, SD, "15", "immunoassay"),
    ("lab-hbeab", ["13953-5"], "乙肝e抗体", "Hepatitis B virus e Ab", "immunology", SERUM, 180, SD, "15", "immunoassay"),
    ("lab-hbcab", ["13952-7"], "乙肝核心抗体", "Hepatitis B virus core Ab", "immunology", SERUM, 180, SD, "15", "immunoassay"),
    ("lab-hbv-dna", ["29615-2"], "乙肝病毒DNA定量", "Hepatitis B virus DNA (viral load)", "molecular", SERUM, 90, SD, "150", "NAA with probe detection"),
    ("lab-hcv-ab", ["16128-1"], "丙肝抗体", "Hepatitis C virus Ab", "immunology", SERUM, 180, SD, "35", "immunoassay"),
    # urine
    ("lab-urinalysis", ["24356-8"], "尿常规", "Urinalysis complete panel", "clinical-microscopy", URINE, 7, SD, "15", ""),
    ("lab-urine-protein", ["5804-0"], "尿蛋白（试纸）", "Protein in urine by test strip", "clinical-microscopy", URINE, 7, SD, "3", "test strip"),
]

DCM = "http://dicom.nema.org/resources/ontology/DCM"
SCT = "http://snomed.info/sct"
HEAD = ("69536005", "Head structure", "头颅")
CHEST = ("51185008", "Thoracic structure", "胸部")
BRAIN = ("12738006", "Brain structure", "脑")
ABDOMEN = ("113345001", "Abdominal structure", "腹部")
HEART = ("80891009", "Heart structure", "心脏")
LSPINE = ("122496007", "Lumbar spine structure", "腰椎")
CSPINE = ("122494005", "Cervical spine structure", "颈椎")
KNEE = ("72696002", "Knee region structure", "膝关节")
PELVIS = ("12921003", "Pelvis structure", "盆腔")
THYROID = ("69748006", "Thyroid structure", "甲状腺")
BREAST = ("76752008", "Breast structure", "乳腺")

# code, LOINC (or []), zh, en, modality, body site, validity days, price yuan, method
EXAM = [
    ("exam-ct-head", ["30799-1"], "头颅CT平扫", "CT head without contrast", "CT", HEAD, 180, "200", "without contrast"),
    ("exam-ct-chest", ["29252-4", "24627-2"], "胸部CT平扫", "CT chest without contrast", "CT", CHEST, 180, "280", "without contrast"),
    ("exam-ct-abdomen", [], "上腹部CT平扫", "CT abdomen without contrast", "CT", ABDOMEN, 180, "300", "without contrast"),
    ("exam-ct-lspine", [], "腰椎CT平扫", "CT lumbar spine", "CT", LSPINE, 180, "280", "without contrast"),
    ("exam-mr-brain", [], "头颅MRI平扫", "MR brain without contrast", "MR", BRAIN, 180, "500", "without contrast"),
    ("exam-mr-lspine", [], "腰椎MRI平扫", "MR lumbar spine", "MR", LSPINE, 180, "500", "without contrast"),
    ("exam-mr-cspine", [], "颈椎MRI平扫", "MR cervical spine", "MR", CSPINE, 180, "500", "without contrast"),
    ("exam-mr-knee", [], "膝关节MRI平扫", "MR knee", "MR", KNEE, 180, "500", "without contrast"),
    ("exam-dr-chest", ["36643-5"], "胸部DR正侧位", "XR chest 2 views (digital radiography)", "DX", CHEST, 90, "70", "2 views"),
    ("exam-dr-lspine", [], "腰椎DR正侧位", "XR lumbar spine 2 views", "DX", LSPINE, 90, "70", "2 views"),
    ("exam-us-abdomen", [], "腹部超声（肝胆胰脾）", "US abdomen", "US", ABDOMEN, 30, "120", ""),
    ("exam-us-thyroid", [], "甲状腺超声", "US thyroid", "US", THYROID, 90, "90", ""),
    ("exam-us-breast", [], "乳腺超声", "US breast", "US", BREAST, 90, "90", ""),
    ("exam-us-pelvis", [], "盆腔超声", "US pelvis", "US", PELVIS, 30, "90", ""),
    ("exam-echo", [], "经胸超声心动图", "Transthoracic echocardiography", "US", HEART, 90, "200", "transthoracic"),
    ("exam-ecg", ["11524-6"], "常规12导联心电图", "12 lead electrocardiogram", "ECG", HEART, 7, "25", "12 lead"),
]

# Local codes two demo members use for some items (their LIS/RIS codes); members map their own.
LOCAL = {
    "lab-cbc": ["gz-central|XCG01", "sz-heart|HEM-001"],
    "lab-k": ["gz-central|SH-K", "sz-heart|CHEM-K"],
    "lab-na": ["gz-central|SH-NA", "sz-heart|CHEM-NA"],
    "lab-hba1c": ["gz-central|THXHDB", "sz-heart|CHEM-A1C"],
    "lab-alt": ["gz-central|GG-ALT", "sz-heart|CHEM-ALT"],
    "lab-crea": ["gz-central|SG-CR", "sz-heart|CHEM-CREA"],
    "lab-glu": ["gz-central|SH-GLU", "sz-heart|CHEM-GLU"],
    "lab-tni": ["sz-heart|CARD-TNI"],
    "exam-ct-head": ["gz-central|CT0101", "sz-heart|RIS-CT-HEAD"],
    "exam-ct-chest": ["gz-central|CT0201", "sz-heart|RIS-CT-CHEST"],
    "exam-dr-chest": ["gz-central|DR0201"],
    "exam-us-abdomen": ["gz-central|US0301"],
    "exam-ecg": ["gz-central|ECG01", "sz-heart|ECG-12"],
}


def prop(code, key, value):
    return {"code": code, key: value}


def concept(code, zh, en, props):
    return {
        "code": code,
        "display": zh,
        "designation": [{"language": "en", "value": en}],
        "property": props,
    }


def lab(row):
    code, loincs, zh, en, group, specimen, days, source, price, method = row
    props = [prop("category", "valueCode", "lab"), prop("qc-group", "valueCode", group)]
    props += [prop("loinc", "valueCode", c) for c in loincs]
    props.append(prop("specimen", "valueCoding", {"system": SCT, "code": specimen[0], "display": specimen[1]}))
    if specimen == SERUM:  # LOINC "Serum or Plasma": either is the same item
        props.append(prop("specimen", "valueCoding", {"system": SCT, "code": "119361006", "display": "Plasma specimen"}))
    if method:
        props.append(prop("method", "valueString", method))
    props += [
        prop("validity-days", "valueInteger", days),
        prop("validity-source", "valueCode", source),
        prop("price-yuan", "valueDecimal", float(price) if "." in price else int(price)),
    ]
    props += [prop("local-code", "valueString", c) for c in LOCAL.get(code, [])]
    return concept(code, zh, en, props)


def exam(row):
    code, loincs, zh, en, modality, site, days, price, method = row
    props = [prop("category", "valueCode", "exam"), prop("qc-group", "valueCode", modality)]
    props += [prop("loinc", "valueCode", c) for c in loincs]
    props.append(prop("modality", "valueCoding", {"system": DCM, "code": modality}))
    props.append(prop("body-site", "valueCoding", {"system": SCT, "code": site[0], "display": site[1]}))
    if method:
        props.append(prop("method", "valueString", method))
    props += [
        prop("validity-days", "valueInteger", days),
        prop("validity-source", "valueCode", SD),
        prop("price-yuan", "valueDecimal", int(price)),
    ]
    props += [prop("local-code", "valueString", c) for c in LOCAL.get(code, [])]
    return concept(code, zh, en, props)


PROPERTIES = [
    ("category", "code", "lab (检验) or exam (检查)"),
    ("qc-group", "code", "quality-control group a qualification (室间质评) covers: haematology, chemistry, immunology, coagulation, molecular, clinical-microscopy; for exams the DICOM modality"),
    ("loinc", "code", "LOINC code of the item; the first is primary, further ones are equivalent (mass and molar units)"),
    ("specimen", "Coding", "specimen type (SNOMED CT)"),
    ("method", "string", "method; a result whose Observation.method names another method is not reusable"),
    ("modality", "Coding", "DICOM modality of an examination"),
    ("body-site", "Coding", "body site of an examination (SNOMED CT)"),
    ("validity-days", "integer", "days after the issue day (Asia/Shanghai) during which the result may be reused"),
    ("validity-source", "code", "example: the figure the guidance is quoted with; seeded: a default of this catalogue"),
    ("price-yuan", "decimal", "unit price in yuan (seeded estimate), to count savings"),
    ("local-code", "string", "a member's local code: <member Organization id>|<code>"),
]


def main():
    concepts = [lab(r) for r in LAB] + [exam(r) for r in EXAM]
    codes = [c["code"] for c in concepts]
    assert len(codes) == len(set(codes))
    code_system = {
        "resourceType": "CodeSystem",
        "id": "recognition-item",
        "url": "https://fhir.medalliance.cn/CodeSystem/recognition-item",
        "version": DATE,
        "name": "RecognitionItem",
        "title": "检查检验结果互认项目目录 / Catalogue of mutually recognised examination and laboratory items",
        "status": "active",
        "experimental": False,
        "date": DATE,
        "publisher": "广深医疗联盟 / Guangzhou-Shenzhen medical alliance",
        "description": "Seeded by data/recognition/make_catalogue.py; see data/recognition/README.md for sources, licences and which validity periods and prices are seeded defaults. Edited by the alliance administrator through the API (PUT CodeSystem/recognition-item); every edit is a new version.",
        "caseSensitive": True,
        "content": "complete",
        "count": len(concepts),
        "property": [{"code": c, "uri": "https://fhir.medalliance.cn/CodeSystem/recognition-item#" + c, "type": t, "description": d} for c, t, d in PROPERTIES],
        "concept": concepts,
    }
    out = pathlib.Path(__file__).with_name("catalogue.json")
    out.write_text(json.dumps(code_system, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{out}: {len(LAB)} laboratory and {len(EXAM)} examination items")


if __name__ == "__main__":
    main()
