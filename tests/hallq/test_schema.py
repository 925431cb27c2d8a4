from hallq.schema import Arr, Bool, Int, Map, Obj, Str, Texts


def test_every_problem_is_listed_with_its_path():
    s = Obj({"business": Str(max_len=5), "n": Int(min=0), "tags": Arr(Str(enum=["a", "b"]))}, required=["business"])
    problems = s.validate({"n": -1, "tags": ["a", "c", 3], "extra": 1})
    assert ("business", "is required") in problems
    assert ("n", "must be at least 0") in problems
    assert ("tags[1]", "must be one of: a, b") in problems
    assert ("tags[2]", "must be a string") in problems
    assert ("extra", "is not a known field") in problems


def test_types_are_strict():
    assert Int().validate(True) == [("", "must be an integer")]
    assert Bool().validate(1) == [("", "must be true or false")]
    assert Obj({}).validate([]) == [("(body)", "must be a JSON object")]
    assert Str(nullable=True).validate(None) == []
    assert Str().validate(None) == [("(body)", "must not be null")]


def test_texts_accept_only_the_three_languages():
    assert Texts().validate({"zh-Hans": "甲", "en": "A"}) == []
    assert Texts().validate({"fr": "A"}) == [("fr", "is not an allowed key")]


def test_json_schema_rendering():
    s = Obj({"a": Str(pattern=r"[a-z]+", max_len=3), "b": Int(min=1, nullable=True), "m": Map(Int())},
            required=["a"])
    js = s.json_schema()
    assert js["required"] == ["a"] and js["additionalProperties"] is False
    assert js["properties"]["a"]["pattern"] == "^(?:[a-z]+)$"
    assert js["properties"]["b"]["type"] == ["integer", "null"]
    assert js["properties"]["m"]["additionalProperties"] == {"type": "integer"}
