"""pipeline.components.money: MONEY span texts to value, currency and the approximate flag (values checked by hand)."""

import pytest

from pipeline.components.money import Money, normalise_money

CASES = [
    # Arabic numerals with magnitudes
    ("1710万元", 17_100_000, "CNY", False),
    ("一百点○五亿元", 10_005_000_000, "CNY", False),  # People's Daily's circle for zero
    ("百亿元", 10_000_000_000, "CNY", False),  # a magnitude word standing for the number (D30)
    ("3.5亿美元", 350_000_000, "USD", False),
    ("５００亿马克", 50_000_000_000, "DEM", False),
    ("３０亿瑞士法郎", 3_000_000_000, "CHF", False),
    ("100万元", 1_000_000, "CNY", False),
    ("1.2万亿元", 1_200_000_000_000, "CNY", False),
    ("1.07万亿元", 1_070_000_000_000, "CNY", False),
    ("30199.98万元", 301_999_800, "CNY", False),
    ("64000万元", 640_000_000, "CNY", False),
    (".67万元", 6_700, "CNY", False),
    ("8千元", 8_000, "CNY", False),
    ("0.03861元", 0.03861, "CNY", False),
    ("0.3元", 0.3, "CNY", False),
    ("-0.115元", -0.115, "CNY", False),
    # layout whitespace, full-width forms, separators
    ("3000 万元", 30_000_000, "CNY", False),
    ("3000\n万元", 30_000_000, "CNY", False),
    ("50 -310亿元", 5_000_000_000, "CNY", True),
    ("３０００万元", 30_000_000, "CNY", False),
    ("１．２亿元", 120_000_000, "CNY", False),
    ("３４６２．５５万元", 34_625_500, "CNY", False),
    ("１·４亿元", 140_000_000, "CNY", False),
    ("7,583.51万元", 75_835_100, "CNY", False),
    ("15，800元", 15_800, "CNY", False),
    ("1，325，270，000元", 1_325_270_000, "CNY", False),
    # Chinese and financial numerals
    ("一千七百一十万元", 17_100_000, "CNY", False),
    ("一千三百二十五亿元", 132_500_000_000, "CNY", False),
    ("两亿元", 200_000_000, "CNY", False),
    ("十五万元", 150_000, "CNY", False),
    ("三十万元", 300_000, "CNY", False),
    ("一万二千元", 12_000, "CNY", False),
    ("三万五千元", 35_000, "CNY", False),
    ("二千六百五十五元", 2_655, "CNY", False),
    ("一百零五元", 105, "CNY", False),
    ("零点五亿元", 50_000_000, "CNY", False),
    ("壹佰万元", 1_000_000, "CNY", False),
    ("壹仟贰佰叁拾肆元伍角", 1_234.5, "CNY", False),
    ("百万元", 1_000_000, "CNY", False),
    ("千亿元", 100_000_000_000, "CNY", False),
    # 余 / 多 / 几 / 数 inside: the round base, approximate
    ("9万余元", 90_000, "CNY", True),
    ("７亿多元", 700_000_000, "CNY", True),
    ("100余万元", 1_000_000, "CNY", True),
    ("8000多万元", 80_000_000, "CNY", True),
    ("１００多亿美元", 10_000_000_000, "USD", True),
    ("数千万元", 10_000_000, "CNY", True),
    ("数十亿元", 1_000_000_000, "CNY", True),
    ("几百万元", 1_000_000, "CNY", True),
    ("二十几万元", 200_000, "CNY", True),
    # ranges: value = low
    ("5000-10000万元", 50_000_000, "CNY", True),
    ("16-18元", 16, "CNY", True),
    ("4.5万到10.5万美元", 45_000, "USD", True),
    ("１２０—３００元", 120, "CNY", True),
    ("二、三千元", 2_000, "CNY", True),
    ("一两百万元", 1_000_000, "CNY", True),
    ("三四万元", 30_000, "CNY", True),
    # currencies and small units
    ("500亿日元", 50_000_000_000, "JPY", False),
    ("２０亿加元", 2_000_000_000, "CAD", False),
    ("15英镑", 15, "GBP", False),
    ("20欧元", 20, "EUR", False),
    ("100港元", 100, "HKD", False),
    ("100港币", 100, "HKD", False),
    ("1000韩元", 1_000, "KRW", False),
    ("６个卢布", 6, "RUB", False),
    ("３８．６０泰铢", 38.6, "THB", False),
    ("５１铢", 51, "THB", False),
    ("300新台币", 300, "TWD", False),
    ("50澳元", 50, "AUD", False),
    ("10万块钱", 100_000, "CNY", False),
    ("2毛", 0.2, "CNY", False),
    ("两毛", 0.2, "CNY", False),
    ("5角", 0.5, "CNY", False),
    ("三块五", 3.5, "CNY", False),
    ("２亿元人民币", 200_000_000, "CNY", False),
    ("人民币1亿元", 100_000_000, "CNY", False),
]


@pytest.mark.parametrize("text, value, currency, approximate", CASES)
def test_written_forms(text, value, currency, approximate):
    m = normalise_money(text)
    assert m is not None, text
    assert (m.value, m.currency, m.approximate) == (value, currency, approximate)
    assert m.value == value and type(m.value) is type(value)  # int when whole, float otherwise


@pytest.mark.parametrize("text", ["2000万股", "8.50%", "80万", "上千万", "5000万", "元", "", "人民币", "市委书记", "一二三"])
def test_not_money(text):
    assert normalise_money(text) is None


def test_range_bounds():
    assert normalise_money("5000-10000万元") == Money(50_000_000, "CNY", True, 50_000_000, 100_000_000)
    assert normalise_money("数千至近万元") == Money(1_000, "CNY", True, 1_000, 10_000)
    assert normalise_money("1710万元").low is None


@pytest.mark.parametrize("before, after, approximate", [
    ("近", "", True), ("约", "", True), ("超过", "", True), ("逾", "", True), ("将近", "", True),
    ("大约", "", True), ("不到", "", True), ("不超过", "", True), ("耗资上", "", True), ("", "左右", True),
    ("", "以上", True), ("达", "", False), ("累计", "", False), ("节约", "", False), ("签约", "", False),
    ("投资", "", False), ("", "。", False),
])
def test_hedges_outside_the_span(before, after, approximate):
    assert normalise_money("3000万元", before, after).approximate is approximate


def test_no_float_artefacts():
    assert normalise_money("0.1元").value == 0.1
    assert normalise_money("0.3元").value == 0.3  # not 0.30000000000000004
    assert normalise_money("1.1万元").value == 11_000
