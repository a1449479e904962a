#!/usr/bin/env python3
"""Generates a labelled Chinese patient population for the master patient index.

Writes, into --out:
  patients.ndjson  one FHIR R4 Patient per line (ids p0000001...), spread over the alliance's
                   members; identifier systems as in the design brief's Names table
                   (resident-id, hkmo-permit, passport, mrn/<member id>)
  truth.tsv        `patient_id<TAB>person_id` for every Patient: records with the same person
                   are the same human being (the truth set; pairs follow from it)
  truth-pairs.tsv  `patient_id<TAB>patient_id` for every pair of records of one person

People live in households (couples, children, grandparents, some twins) that share an
address and often a home phone. Each person has one to four records at different members.
A record copies its person with the errors real registration desks make, at the rates below
(all documented in doc/mpi.md):
  * name: simplified characters (most), traditional characters, a homophone character
    typed through a pinyin IME (张伟 -> 张玮), or pinyin in Latin letters: ZHANG WEI,
    Zhang Wei, zhāng wěi, ZHANGWEI, WEI ZHANG; sometimes Han and Latin names both;
  * birth date: day and month swapped, year off by one, or missing;
  * resident ID: missing, or one mistyped digit (fails the GB 11643 check character);
  * phone: the person's mobile, the household phone, a new number, or none;
  * address: the household's, a new one after a move, or none; gender sometimes missing.
Hong Kong and Macau residents carry a 港澳居民来往内地通行证 (H/M + 8 digits [+ 2]) instead
of a resident ID, some mainland adults also a passport.

Deterministic: the same --seed and --records give byte-identical files. Python 3 stdlib only.
  tools/mpi/gen_population.py --records 20000 --seed 2 --out /tmp/mpi-pop
"""

import argparse
import datetime
import json
import os
import random

MEMBERS = [
    "gz-central", "gz-first", "gz-women-children", "gz-tcm", "gz-cancer", "gz-brain",
    "gz-tianhe-chc", "gz-yuexiu-chc", "gz-haizhu-chc",
    "sz-heart", "sz-people", "sz-university", "sz-children", "sz-cancer", "sz-nanshan",
    "sz-futian-chc", "sz-luohu-chc", "sz-baoan-chc",
]

# GB/T 2260 codes (checked against data/mpi/gb2260-codes.txt at start): Guangzhou and
# Shenzhen districts mostly, and provinces many residents come from.
REGIONS = [("440103", 6), ("440104", 6), ("440106", 8), ("440111", 5), ("440112", 4),
           ("440113", 4), ("440303", 6), ("440304", 7), ("440305", 7), ("440306", 6),
           ("440307", 6), ("440308", 2), ("440402", 2), ("440902", 2), ("441302", 2),
           ("445102", 2), ("430102", 2), ("430103", 1), ("360102", 2), ("450102", 2),
           ("510104", 2), ("410102", 2), ("420102", 2), ("350102", 1)]
CITY_OF = {"4401": ("广东省", "广州市"), "4403": ("广东省", "深圳市")}
DISTRICTS = {"广州市": ["天河区", "越秀区", "海珠区", "荔湾区", "白云区", "番禺区"],
             "深圳市": ["福田区", "罗湖区", "南山区", "宝安区", "龙岗区", "盐田区"]}
STREETS = ["天河路", "中山大道", "体育西路", "环市东路", "江南大道", "工业大道", "深南大道",
           "北环大道", "华强北路", "科技园路", "宝安大道", "布吉路", "解放北路", "东风中路",
           "滨海大道", "梅林路", "莲花路", "南海大道", "沙河路", "人民南路"]

# (surname, toned pinyin, weight ~ share of the population in percent * 10)
SURNAMES = [
    ("王", "wáng", 72), ("李", "lǐ", 72), ("张", "zhāng", 68), ("刘", "liú", 53),
    ("陈", "chén", 45), ("杨", "yáng", 32), ("黄", "huáng", 24), ("赵", "zhào", 23),
    ("吴", "wú", 21), ("周", "zhōu", 21), ("徐", "xú", 17), ("孙", "sūn", 15),
    ("马", "mǎ", 15), ("朱", "zhū", 14), ("胡", "hú", 13), ("郭", "guō", 12),
    ("何", "hé", 12), ("林", "lín", 12), ("罗", "luó", 11), ("高", "gāo", 11),
    ("郑", "zhèng", 10), ("梁", "liáng", 10), ("谢", "xiè", 9), ("宋", "sòng", 8),
    ("唐", "táng", 8), ("许", "xǔ", 8), ("邓", "dèng", 7), ("冯", "féng", 7),
    ("韩", "hán", 7), ("曹", "cáo", 7), ("曾", "zēng", 6), ("彭", "péng", 6),
    ("萧", "xiāo", 6), ("蔡", "cài", 6), ("潘", "pān", 6), ("田", "tián", 5),
    ("董", "dǒng", 5), ("袁", "yuán", 5), ("于", "yú", 5), ("余", "yú", 5),
    ("叶", "yè", 5), ("蒋", "jiǎng", 5), ("杜", "dù", 4), ("苏", "sū", 4),
    ("魏", "wèi", 4), ("程", "chéng", 4), ("吕", "lǚ", 4), ("丁", "dīng", 4),
    ("沈", "shěn", 4), ("任", "rén", 4), ("姚", "yáo", 4), ("卢", "lú", 4),
    ("钟", "zhōng", 4), ("姜", "jiāng", 3), ("崔", "cuī", 3), ("谭", "tán", 3),
    ("陆", "lù", 3), ("范", "fàn", 3), ("汪", "wāng", 3), ("廖", "liào", 3),
    ("欧阳", "ōu yáng", 1), ("司马", "sī mǎ", 1),
]
# (character, toned pinyin, sex preference M/F/-) ; homophones on purpose (伟玮炜, 静婧, 杰洁 ...)
GIVEN = [
    ("伟", "wěi", "M"), ("玮", "wěi", "-"), ("炜", "wěi", "M"), ("芳", "fāng", "F"),
    ("娜", "nà", "F"), ("敏", "mǐn", "-"), ("静", "jìng", "F"), ("婧", "jìng", "F"),
    ("丽", "lì", "F"), ("莉", "lì", "F"), ("强", "qiáng", "M"), ("磊", "lěi", "M"),
    ("军", "jūn", "M"), ("洋", "yáng", "-"), ("勇", "yǒng", "M"), ("艳", "yàn", "F"),
    ("杰", "jié", "M"), ("洁", "jié", "F"), ("娟", "juān", "F"), ("涛", "tāo", "M"),
    ("明", "míng", "M"), ("铭", "míng", "M"), ("超", "chāo", "M"), ("秀", "xiù", "F"),
    ("兰", "lán", "F"), ("霞", "xiá", "F"), ("平", "píng", "-"), ("刚", "gāng", "M"),
    ("桂", "guì", "F"), ("英", "yīng", "F"), ("华", "huá", "-"), ("建", "jiàn", "M"),
    ("国", "guó", "M"), ("志", "zhì", "M"), ("文", "wén", "-"), ("红", "hóng", "F"),
    ("梅", "méi", "F"), ("玉", "yù", "F"), ("晓", "xiǎo", "-"), ("东", "dōng", "M"),
    ("海", "hǎi", "M"), ("燕", "yàn", "F"), ("婷", "tíng", "F"), ("雪", "xuě", "F"),
    ("慧", "huì", "F"), ("俊", "jùn", "M"), ("鹏", "péng", "M"), ("宇", "yǔ", "M"),
    ("浩", "hào", "M"), ("然", "rán", "-"), ("子", "zǐ", "-"), ("涵", "hán", "-"),
    ("欣", "xīn", "F"), ("怡", "yí", "F"), ("梓", "zǐ", "-"), ("萱", "xuān", "F"),
    ("轩", "xuān", "M"), ("博", "bó", "M"), ("嘉", "jiā", "-"), ("佳", "jiā", "-"),
    ("琳", "lín", "F"), ("思", "sī", "-"), ("诗", "shī", "F"), ("雨", "yǔ", "F"),
    ("辰", "chén", "M"), ("晨", "chén", "-"), ("一", "yī", "-"), ("诺", "nuò", "-"),
    ("泽", "zé", "M"), ("睿", "ruì", "M"), ("瑞", "ruì", "-"), ("颖", "yǐng", "F"),
    ("丹", "dān", "F"), ("凯", "kǎi", "M"), ("亮", "liàng", "M"), ("斌", "bīn", "M"),
    ("彬", "bīn", "M"), ("龙", "lóng", "M"), ("飞", "fēi", "M"), ("玲", "líng", "F"),
    ("丰", "fēng", "M"), ("峰", "fēng", "M"), ("春", "chūn", "-"), ("秋", "qiū", "F"),
]
TONELESS = str.maketrans("āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü", "aaaaeeeeiiiioooouuuuvvvvv")

# Rates (per record unless said otherwise)
P_ID_PRESENT = 0.96
P_ID_TYPO = 0.015
P_NAME_TRADITIONAL = 0.05
P_NAME_HOMOPHONE = 0.02
P_NAME_LATIN = 0.06
P_NAME_BOTH = 0.08
P_BIRTH_SWAP = 0.015
P_BIRTH_YEAR_OFF = 0.01
P_BIRTH_MISSING = 0.01
P_GENDER_MISSING = 0.01
P_PHONE = [("mobile", 0.70), ("home", 0.12), ("new", 0.06), ("none", 0.12)]
P_ADDRESS = [("home", 0.62), ("moved", 0.08), ("none", 0.30)]
P_HKMO_PERSON = 0.03
P_PASSPORT_PERSON = 0.05
RECORDS_PER_PERSON = [(1, 0.52), (2, 0.27), (3, 0.14), (4, 0.07)]


def pick(rng, weighted):
    total = sum(w for _, w in weighted)
    x = rng.random() * total
    for value, w in weighted:
        x -= w
        if x < 0:
            return value
    return weighted[-1][0]


def check_char(first17):
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights)) % 11]


def load_s2t(root):
    s2t = {}
    with open(os.path.join(root, "data", "mpi", "hanzi-t2s.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#") or len(line) != 2:
                continue
            s2t.setdefault(line[1], line[0])
    return s2t


class Generator:
    def __init__(self, seed, root):
        self.rng = random.Random(seed)
        self.s2t = load_s2t(root)
        codes = set()
        with open(os.path.join(root, "data", "mpi", "gb2260-codes.txt"), encoding="utf-8") as f:
            codes = {line.strip() for line in f if not line.startswith("#")}
        for code, _ in REGIONS:
            assert code in codes, code
        self.used_ids = set()
        self.used_phones = set()
        self.homophones = {}
        for ch, py, _ in GIVEN:
            self.homophones.setdefault(py.translate(TONELESS), []).append(ch)
        self.next_person = 0

    # ---- people -------------------------------------------------------------------------
    def phone(self):
        while True:
            number = "1" + self.rng.choice("3456789") + "".join(
                self.rng.choice("0123456789") for _ in range(9))
            if number not in self.used_phones:
                self.used_phones.add(number)
                return number

    def landline(self, city):
        area = "020" if city == "广州市" else "0755"
        while True:
            number = area + self.rng.choice("2345678") + "".join(
                self.rng.choice("0123456789") for _ in range(7))
            if number not in self.used_phones:
                self.used_phones.add(number)
                return number

    def address(self):
        city = self.rng.choice(["广州市", "深圳市"])
        district = self.rng.choice(DISTRICTS[city])
        line = "%s%d号%d栋%d室" % (self.rng.choice(STREETS), self.rng.randint(1, 999),
                                  self.rng.randint(1, 30), self.rng.randint(101, 2808))
        return {"state": "广东省", "city": city, "district": district, "line": line}

    def given_name(self, sex):
        pool = [g for g in GIVEN if g[2] in (sex, "-")]
        n = 1 if self.rng.random() < 0.3 else 2
        chars = [self.rng.choice(pool) for _ in range(n)]
        return "".join(c for c, _, _ in chars), " ".join(p for _, p, _ in chars)

    def resident_id(self, birth, sex, region):
        while True:
            seq = "%02d" % self.rng.randint(0, 99)
            sex_digit = self.rng.choice("13579" if sex == "M" else "02468")
            first17 = region + birth.strftime("%Y%m%d") + seq + sex_digit
            value = first17 + check_char(first17)
            if value not in self.used_ids:
                self.used_ids.add(value)
                return value

    def person(self, household, family, sex, birth, twin_of=None):
        self.next_person += 1
        surname = family
        given, given_py = self.given_name(sex)
        if twin_of is not None:
            while given == twin_of["given"] or given_py.translate(TONELESS).replace(" ", "") == \
                    twin_of["given_py"].translate(TONELESS).replace(" ", ""):
                given, given_py = self.given_name(sex)
        hk = self.rng.random() < P_HKMO_PERSON
        if twin_of is not None:
            hk = twin_of["hk"]
        person = {
            "id": "person%07d" % self.next_person,
            "family": surname[0], "family_py": surname[1], "given": given, "given_py": given_py,
            "sex": sex, "birth": birth, "household": household, "hk": hk,
            "mobile": self.phone() if birth.year < 2012 or self.rng.random() < 0.2 else None,
        }
        if hk:
            person["permit"] = self.rng.choice("HM") + "".join(
                self.rng.choice("0123456789") for _ in range(8))
            person["permit_issue"] = "%02d" % self.rng.randint(0, 3)
            person["mobile"] = "+852 " + "".join(self.rng.choice("0123456789") for _ in range(8))
        else:
            region = pick(self.rng, REGIONS)
            if twin_of is not None and "region" in twin_of:
                region = twin_of["region"]
            person["region"] = region
            person["resident_id"] = self.resident_id(birth, sex, region)
            if birth.year < 2005 and self.rng.random() < P_PASSPORT_PERSON:
                person["passport"] = self.rng.choice("EG") + "".join(
                    self.rng.choice("0123456789") for _ in range(8))
        return person

    def birth(self, year_lo, year_hi):
        start = datetime.date(year_lo, 1, 1).toordinal()
        end = datetime.date(year_hi, 12, 31).toordinal()
        return datetime.date.fromordinal(self.rng.randint(start, end))

    def household(self, number):
        addr = self.address()
        home_phone = self.landline(addr["city"]) if self.rng.random() < 0.4 else None
        hh = {"id": number, "address": addr, "home_phone": home_phone}
        members = []
        surname = pick(self.rng, [(s[:2], s[2]) for s in SURNAMES])
        shape = self.rng.random()
        parent_year = self.rng.randint(1945, 2000)
        husband = self.person(hh, surname, "M", self.birth(parent_year - 3, parent_year + 2))
        members.append(husband)
        if shape < 0.15:
            return members  # one person
        wife_surname = pick(self.rng, [(s[:2], s[2]) for s in SURNAMES])
        members.append(self.person(hh, wife_surname, "F", self.birth(parent_year - 2, parent_year + 3)))
        child_year_lo = parent_year + 22
        if shape < 0.35 or child_year_lo > 2024:
            return members
        kids = 1 if self.rng.random() < 0.6 else 2
        for _ in range(kids):
            born = self.birth(child_year_lo, min(2024, parent_year + 38))
            sex = self.rng.choice("MF")
            child = self.person(hh, surname, sex, born)
            members.append(child)
            if self.rng.random() < 0.03:  # twins: same birth date, same family, another name
                twin_sex = sex if self.rng.random() < 0.5 else ("F" if sex == "M" else "M")
                members.append(self.person(hh, surname, twin_sex, born, twin_of=child))
        return members

    # ---- records ------------------------------------------------------------------------
    def traditional(self, text):
        return "".join(self.s2t.get(c, c) for c in text)

    def homophone(self, given):
        chars = list(given)
        spots = [i for i, c in enumerate(chars)
                 if any(len(v) > 1 and c in v for v in self.homophones.values())]
        if not spots:
            return given
        i = self.rng.choice(spots)
        options = [v for v in self.homophones.values() if chars[i] in v][0]
        chars[i] = self.rng.choice([c for c in options if c != chars[i]])
        return "".join(chars)

    def latin_name(self, person):
        fam = person["family_py"].replace(" ", "")
        giv = person["given_py"].replace(" ", "")
        plain_f = fam.translate(TONELESS).replace("v", "ü")
        plain_g = giv.translate(TONELESS).replace("v", "ü")
        passport_f = plain_f.replace("ü", "yu").upper()
        passport_g = plain_g.replace("ü", "yu").upper()
        form = self.rng.randrange(5)
        if form == 0:
            return {"use": "official", "family": passport_f, "given": [passport_g]}
        if form == 1:
            return {"text": plain_f.capitalize() + " " + plain_g.capitalize()}
        if form == 2:
            return {"text": fam + " " + giv}
        if form == 3:
            return {"text": passport_f + passport_g}
        return {"text": plain_g.capitalize() + " " + plain_f.capitalize()}

    def record(self, number, person, member):
        rng = self.rng
        resource = {"resourceType": "Patient", "id": "p%07d" % number}
        identifiers = [{"use": "usual",
                        "system": "https://fhir.medalliance.cn/sid/mrn/" + member,
                        "value": "%s-%08d" % (member.split("-")[0].upper(), rng.randint(0, 10**8 - 1))}]
        if person.get("resident_id") and rng.random() < P_ID_PRESENT:
            value = person["resident_id"]
            if rng.random() < P_ID_TYPO:
                pos = rng.randrange(17)
                digit = rng.choice([d for d in "0123456789" if d != value[pos]])
                value = value[:pos] + digit + value[pos + 1:]
            identifiers.append({"use": "official",
                                "system": "https://fhir.medalliance.cn/sid/resident-id",
                                "value": value})
        if person.get("permit") and rng.random() < 0.92:
            value = person["permit"] + (person["permit_issue"] if rng.random() < 0.5 else "")
            identifiers.append({"system": "https://fhir.medalliance.cn/sid/hkmo-permit",
                                "value": value})
        if person.get("passport") and rng.random() < 0.5:
            identifiers.append({
                "system": "https://fhir.medalliance.cn/sid/passport", "value": person["passport"],
                "extension": [{"url": "https://fhir.medalliance.cn/StructureDefinition/issuing-country",
                               "valueCode": "CN"}]})
        resource["identifier"] = identifiers

        family, given = person["family"], person["given"]
        x = rng.random()
        names = []
        if x < P_NAME_LATIN:
            names.append(self.latin_name(person))
        else:
            if person["hk"] or x < P_NAME_LATIN + P_NAME_TRADITIONAL:
                family, given = self.traditional(family), self.traditional(given)
            elif x < P_NAME_LATIN + P_NAME_TRADITIONAL + P_NAME_HOMOPHONE:
                given = self.homophone(given)
            if rng.random() < 0.5:
                names.append({"use": "official", "text": family + given, "family": family,
                              "given": [given]})
            else:
                names.append({"use": "official", "text": family + given})
            if rng.random() < P_NAME_BOTH:
                latin = self.latin_name(person)
                latin["use"] = "usual"
                names.append(latin)
        resource["name"] = names

        if rng.random() >= P_GENDER_MISSING:
            resource["gender"] = "male" if person["sex"] == "M" else "female"
        birth = person["birth"]
        y = rng.random()
        if y < P_BIRTH_MISSING:
            birth = None
        elif y < P_BIRTH_MISSING + P_BIRTH_SWAP and birth.day <= 12 and birth.day != birth.month:
            birth = datetime.date(birth.year, birth.day, birth.month)
        elif y < P_BIRTH_MISSING + P_BIRTH_SWAP + P_BIRTH_YEAR_OFF and not (
                birth.month == 2 and birth.day == 29):
            birth = datetime.date(birth.year + rng.choice([-1, 1]), birth.month, birth.day)
        if birth is not None:
            resource["birthDate"] = birth.isoformat()

        hh = person["household"]
        phone_kind = pick(rng, P_PHONE)
        phone = None
        if phone_kind == "mobile":
            phone = person["mobile"] or hh["home_phone"]
        elif phone_kind == "home":
            phone = hh["home_phone"] or person["mobile"]
        elif phone_kind == "new":
            phone = self.phone()
        if phone:
            if rng.random() < 0.2 and not phone.startswith("+"):
                phone = phone[:3] + " " + phone[3:7] + " " + phone[7:] if phone.startswith("1") \
                    else phone[:len(phone) - 8] + "-" + phone[len(phone) - 8:]
            resource["telecom"] = [{"system": "phone", "value": phone,
                                    "use": "mobile" if phone.startswith(("1", "+")) else "home"}]
        address_kind = pick(rng, P_ADDRESS)
        if address_kind != "none":
            a = hh["address"] if address_kind == "home" else self.address()
            text = a["state"] + a["city"] + a["district"] + a["line"]
            resource["address"] = [{"use": "home", "text": text, "line": [a["line"]],
                                    "district": a["district"], "city": a["city"],
                                    "state": a["state"], "country": "CN"}]
        return resource


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    gen = Generator(args.seed, root)
    os.makedirs(args.out, exist_ok=True)
    records = []  # (person, member)
    household = 0
    while len(records) < args.records:
        household += 1
        for person in gen.household(household):
            count = pick(gen.rng, RECORDS_PER_PERSON)
            for member in gen.rng.sample(MEMBERS, count):
                records.append((person, member))
    records = records[:args.records]
    order = list(range(len(records)))
    gen.rng.shuffle(order)  # records arrive in no particular order
    by_person = {}
    with open(os.path.join(args.out, "patients.ndjson"), "w", encoding="utf-8", newline="\n") as out, \
            open(os.path.join(args.out, "truth.tsv"), "w", encoding="utf-8", newline="\n") as truth:
        for number, index in enumerate(order, start=1):
            person, member = records[index]
            resource = gen.record(number, person, member)
            out.write(json.dumps(resource, ensure_ascii=False, separators=(",", ":")) + "\n")
            truth.write("%s\t%s\n" % (resource["id"], person["id"]))
            by_person.setdefault(person["id"], []).append(resource["id"])
    with open(os.path.join(args.out, "truth-pairs.tsv"), "w", encoding="utf-8", newline="\n") as f:
        for ids in by_person.values():
            for i in range(len(ids)):
                for j in range(i + 1, len(ids)):
                    f.write("%s\t%s\n" % (ids[i], ids[j]))


if __name__ == "__main__":
    main()
