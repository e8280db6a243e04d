import pytest

from agents.templates import TemplateError, builtin_templates, load_template, parse_template
from oversight.quotes import extract_quotes, mark_quotes


def test_quotes_verified_against_context() -> None:
    ctx = "The cat sat on the mat.\nIt was   a sunny day."
    text = "See <quote>the cat sat on the mat</quote> and <quote>it rained</quote>."
    quotes = extract_quotes(text, ctx)
    assert [(q["text"], q["verified"], q["match"] == 1.0) for q in quotes] == [
        ("the cat sat on the mat", True, True),
        ("it rained", False, False),
    ]
    assert extract_quotes("<quote>It was a sunny day</quote>", ctx)[0]["verified"]
    assert not extract_quotes(text, None)[0]["verified"]
    marked = mark_quotes(text, ctx)
    assert "<v_quote>the cat sat on the mat</v_quote>" in marked
    assert "<u_quote>it rained</u_quote>" in marked


def test_builtin_templates_render() -> None:
    assert {"debater", "consultant", "judge", "judge_skeptic"} <= set(builtin_templates())
    msgs = load_template("judge").render(
        context_section="", question="Q?", answer_a="x", answer_b="y", transcript_section=""
    )
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert "A: x" in msgs[1]["content"]


def test_template_errors(tmp_path) -> None:
    with pytest.raises(TemplateError, match="missing the line"):
        parse_template("no separator", "t")
    with pytest.raises(TemplateError, match="no prompt template 'nope'"):
        load_template("nope")
    t = parse_template("sys {a}\n=== user ===\nuser {b}", "t")
    with pytest.raises(TemplateError, match="unknown field"):
        t.render(a=1)
    path = tmp_path / "mine.txt"
    path.write_text("s\n=== user ===\nu {question}")
    assert load_template(str(path)).render(question="Q")[1]["content"] == "u Q"
    assert load_template(str(path)).hash != load_template("judge").hash
