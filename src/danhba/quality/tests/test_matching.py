"""The real-time scorer (Python, stored model) gives Splink's numbers: for every pair Splink
scores in DuckDB, the same levels and the same match weight."""

from __future__ import annotations

import itertools

from danhba.quality import linkage, matching
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

    from danhba.quality.comparisons import BLOCKING_RULES, COMPARISONS

    sql = " ".join([*(lv.sql for c in COMPARISONS for lv in c.levels), *BLOCKING_RULES])
    called = {name.lower() for name in re.findall(r"([A-Za-z_]+)\s*\(", sql)}
    assert called <= {"jaro_winkler_similarity", "levenshtein", "substr"}, called


def test_a_company_is_compared_without_its_legal_form() -> None:
    names = ("Công ty TNHH Xây dựng Minh Phát", "Cty TNHH Xây Dựng Minh Phát",
             "Xây dựng Minh Phát", "CTCP Xây dựng Minh Phát")  # fmt: skip
    assert {record(ContactValues(1, company=n))["company"] for n in names} == {"xay dung minh phat"}
    assert record(ContactValues(1, company="Công ty"))["company"] == "cong ty"  # nothing but a legal form stays
