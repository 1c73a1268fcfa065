"""pipeline.components.events: the n-ary event view assembled from entities and relations."""

from collections import Counter
from pathlib import Path

from pipeline.components.events import assemble_events
from pipeline.jsonl import read_jsonl
from pipeline.training.gold import from_mentions

TRAIN = Path(__file__).resolve().parents[1] / "data" / "gold" / "train.jsonl"


def record(text: str, entities: list, relations: list) -> dict:
    """A record from mentions in reading order and [head, tail, label] index triples."""
    item = {"id": "t", "source": "test", "position": "0", "text": text}
    return from_mentions(item, {"entities": entities, "relations": relations})


def roles(event: dict, rec: dict) -> dict[str, str]:
    names = {e["id"]: e["text"] for e in rec["entities"]}
    return {names[p["entity"]]: p["role"] for p in event["parties"]}


def test_distributive_phrasing_gives_one_event_per_amount():
    rec = record("许昌恒生制药有限公司分别与邮储银行、郑州银行达成预授信1000万元、610万元。",
                 [["许昌恒生制药有限公司", "ORG"], ["邮储银行", "ORG"], ["郑州银行", "ORG"],
                  ["1000万元", "MONEY"], ["610万元", "MONEY"]],
                 [[0, 1, "agreement_with"], [0, 2, "agreement_with"], [0, 3, "amount"], [1, 3, "amount"],
                  [0, 4, "amount"], [2, 4, "amount"]])
    first, second = assemble_events(rec)
    assert [first["type"], second["type"]] == ["预授信", "预授信"]
    assert roles(first, rec) == {"许昌恒生制药有限公司": "receiver", "邮储银行": "grantor"}
    assert roles(second, rec) == {"许昌恒生制药有限公司": "receiver", "郑州银行": "grantor"}
    assert (first["amount"]["entity"], first["amount"]["value"], first["amount"]["currency"]) == ("e4", 10_000_000, "CNY")
    assert (second["amount"]["entity"], second["amount"]["value"]) == ("e5", 6_100_000)
    assert first["relations"] == [0, 2, 3] and second["relations"] == [1, 4, 5]


def test_single_agreement_with_amount():
    rec = record("11月20日上午，许昌鑫瑞德化工科技有限公司与中原银行签约，获得授信近100万元。",
                 [["许昌鑫瑞德化工科技有限公司", "ORG"], ["中原银行", "ORG"], ["100万元", "MONEY"]],
                 [[0, 1, "agreement_with"], [0, 2, "amount"], [1, 2, "amount"]])
    [event] = assemble_events(rec)
    assert event["type"] == "授信"  # nearer the amount than 签约
    assert roles(event, rec) == {"许昌鑫瑞德化工科技有限公司": "receiver", "中原银行": "grantor"}
    assert event["amount"]["value"] == 1_000_000 and event["amount"]["approximate"] is True  # 近 before the span
    assert event["date"]["text"] == "11月20日"
    assert event["relations"] == [0, 1, 2]


def test_amount_with_one_party():
    rec = record("2019年，襄城县投资3000 万元建设污水处理厂。",
                 [["襄城县", "GPE"], ["3000 万元", "MONEY"]], [[0, 1, "amount"]])
    [event] = assemble_events(rec)
    assert event["type"] == "投资"
    assert roles(event, rec) == {"襄城县": "party"}
    assert event["amount"]["value"] == 30_000_000
    assert event["date"]["text"] == "2019年"


def test_agreement_without_money():
    rec = record("腾讯与中国联通签署战略合作协议。", [["腾讯", "ORG"], ["中国联通", "ORG"]], [[0, 1, "agreement_with"]])
    [event] = assemble_events(rec)
    assert event["type"] == "签署" and event["amount"] is None and event["date"] is None
    assert roles(event, rec) == {"腾讯": "receiver", "中国联通": "grantor"}


def test_agreement_without_type_word_and_both_directions():
    rec = record("甲公司、乙公司今天达成一致。", [["甲公司", "ORG"], ["乙公司", "ORG"]],
                 [[0, 1, "agreement_with"], [1, 0, "agreement_with"]])
    [event] = assemble_events(rec)
    assert (event["type"], event["trigger"]) == ("agreement", None)
    assert event["relations"] == [0, 1]


def test_trigger_and_date_extraction():
    # 投资 inside the company name is not the trigger; the date after the trigger is not the event's
    rec = record("中国投资有限公司2019年11月20日宣布，将向该项目投资5亿元，2020年建成。",
                 [["中国投资有限公司", "ORG"], ["5亿元", "MONEY"]], [[0, 1, "amount"]])
    [event] = assemble_events(rec)
    start = rec["text"].index("投资5亿元")
    assert event["trigger"] == {"start": start, "end": start + 2, "text": "投资"}
    assert event["date"] == {"start": 8, "end": 19, "text": "2019年11月20日"}

    rec = record("１月２３日，县政府向德通智能拨款２０万元。", [["县政府", "ORG"], ["德通智能", "ORG"], ["２０万元", "MONEY"]],
                 [[0, 2, "amount"], [1, 2, "amount"]])
    [event] = assemble_events(rec)
    assert (event["type"], event["date"]["text"]) == ("拨款", "１月２３日")

    rec = record("今年上半年，德通智能销售额达3000万元。", [["德通智能", "ORG"], ["3000万元", "MONEY"]], [[0, 1, "amount"]])
    [event] = assemble_events(rec)
    assert (event["type"], event["date"]["text"]) == ("销售额", "今年上半年")


def test_trigger_and_date_stay_in_the_sentence():
    rec = record("2018年，公司签约投资。德通智能收到100万元。", [["德通智能", "ORG"], ["100万元", "MONEY"]], [[0, 1, "amount"]])
    [event] = assemble_events(rec)
    assert (event["type"], event["trigger"], event["date"]) == ("amount", None, None)


def test_scores_pass_through_as_minimum():
    rec = record("许昌恒生制药有限公司与邮储银行达成预授信1000万元。",
                 [["许昌恒生制药有限公司", "ORG"], ["邮储银行", "ORG"], ["1000万元", "MONEY"]],
                 [[0, 1, "agreement_with"], [0, 2, "amount"], [1, 2, "amount"]])
    for rel, score in zip(rec["relations"], (0.9, 0.7, 0.8)):
        rel["score"] = score
    [event] = assemble_events(rec)
    assert event["score"] == 0.7
    assert "score" not in assemble_events(record("腾讯与中国联通合作。", [["腾讯", "ORG"], ["中国联通", "ORG"]],
                                                 [[0, 1, "agreement_with"]]))[0]


def test_every_gold_train_record():
    for rec in read_jsonl(TRAIN):
        events = assemble_events(rec)
        in_events = Counter(ev["amount"]["entity"] for ev in events if ev["amount"])
        with_amount = {r["tail"] for r in rec["relations"] if r["label"] == "amount"}
        assert set(in_events) == with_amount and all(n == 1 for n in in_events.values()), rec["id"]
        assert all(ev["amount"]["value"] is not None for ev in events if ev["amount"]), rec["id"]
        pairs = {frozenset((r["head"], r["tail"])) for r in rec["relations"] if r["label"] == "agreement_with"}
        for pair in pairs:
            assert any(pair <= {p["entity"] for p in ev["parties"]} for ev in events), (rec["id"], pair)
