"""Behaviour of the extraction building blocks on small hand-made pages."""

from __future__ import annotations

import pytest

from moderation import extract_page
from moderation.extract import detect_kind
from moderation.extract.lines import Line
from moderation.extract.rules import ACTION, BYLINE, HEADER, TIMESTAMP, tag_line
from moderation.extract.script import script_language

ARTICLE = (
    "Health officials said on Tuesday that the new clinic would open next month in the city centre.\n"
    "The ministry added that staff had been hired and that funding was confirmed by the council.\n"
    "Officials said the clinic would serve about 4,000 patients a year, according to a statement.\n"
)


def kind_of(text: str) -> tuple[str, str | None]:
    line = Line(index=0, text=text)
    tag_line(line)
    return line.kind, line.author


@pytest.mark.parametrize("text", ["Comments", "32 Comments", "Join the conversation", "READER COMMENTS", "Comments (12)"])
def test_section_headers(text: str) -> None:
    assert kind_of(text)[0] == HEADER


@pytest.mark.parametrize("text", ["3 hours ago", "Nov 2, 2023 4:15 pm", "Yesterday at 9:05 AM", "2023-11-02 16:15"])
def test_timestamps(text: str) -> None:
    assert kind_of(text)[0] == TIMESTAMP


@pytest.mark.parametrize("text", ["Reply · 12 Likes", "Report abuse", "Load more comments", "Sort by Newest", "↑ 12 ↓ 3"])
def test_action_lines(text: str) -> None:
    assert kind_of(text)[0] == ACTION


@pytest.mark.parametrize(
    "text,name",
    [("Jane Doe wrote on Nov 2, 2023:", "Jane Doe"), ("#12 skeptic_99", "skeptic_99"), ("Old Timer · 3 hours ago", "Old Timer"),
     ("The Realist wrote on Nov 10, 2023:", "The Realist"), ("The Realist · vor 24 Tagen", "The Realist")],
)
def test_bylines_name_the_author(text: str, name: str) -> None:
    assert kind_of(text) == (BYLINE, name)


def test_sentences_ending_in_colon_are_not_authors() -> None:
    assert kind_of("Here is what we know:")[0] != BYLINE


def test_script_languages() -> None:
    assert script_language("据熟悉谈判的消息人士告诉CNN") == "zh"
    assert script_language("Привет, как дела у всех сегодня") == "ru"
    assert script_language("مرحبا بالعالم اليوم") == "ar"
    assert script_language("An English sentence with CNN in it.") is None


def test_kind_detected_from_content_not_name() -> None:
    assert detect_kind("<!DOCTYPE html><html><body><p>x</p></body></html>") == "html"
    assert detect_kind("---\ntitle: x\n---\nBody") == "markdown"
    assert detect_kind("Plain words about <b> tags.") == "text"
    assert detect_kind("<div><p>One</p><p>Two</p></div>") == "html"
    # one pasted comment full of tags does not make a plain-text dump HTML
    dump = "Headline\n\nFirst paragraph here.\n\nSecond one.\n\n<p><span style=''>A comment</span></p>\n\nLast comment.\n"
    assert detect_kind(dump) == "text"


@pytest.mark.parametrize("text", ["Coronavirus Daily Digest: April 15, 2020", "Cases climbed to 9,000."])
def test_date_or_figure_after_comma_is_not_a_byline(text: str) -> None:
    line = Line(index=0, text=text)
    tag_line(line)
    assert line.kind != BYLINE


def test_byline_with_time_after_comma() -> None:
    line = Line(index=0, text="Jane Doe, 3 hours ago")
    tag_line(line)
    assert (line.kind, line.author) == (BYLINE, "Jane Doe")


def test_page_with_header_metadata_and_actions() -> None:
    page = ARTICLE + (
        "\nAdvertisement\n\n32 Comments\nSort by Newest\n\nJane Doe\n3 hours ago\nThis is nonsense, I never trust these plans.\n"
        "Reply · 4 Likes\n\nskeptic_99 wrote on Nov 2, 2023:\nWho pays for it? You and me, as always.\n\nLoad more comments\n"
    )
    doc = extract_page(page)
    assert doc.article == ARTICLE.strip().split("\n")
    assert doc.boilerplate == ["Advertisement"]
    assert [(c.author, c.text) for c in doc.comments] == [
        ("Jane Doe", "This is nonsense, I never trust these plans."),
        ("skeptic_99", "Who pays for it? You and me, as always."),
    ]


def test_comment_link_above_the_article_is_not_the_thread() -> None:
    page = "- 5 Kommentare\nNordkorea\n" + ARTICLE + "\nKommentare (113)\n\nJane Doe wrote on Nov 2, 2023:\nWho pays for it? You and me.\n"
    doc = extract_page(page)
    assert doc.article[-3:] == ARTICLE.strip().split("\n")
    assert [(c.author, c.text) for c in doc.comments] == [("Jane Doe", "Who pays for it? You and me.")]


def test_bare_discussion_label_opens_the_thread_without_being_a_comment() -> None:
    thread = [("Jane Doe", "Who pays for it?"), ("Old Timer", "Nobody, as always."), ("skeptic_99", "You and me.")]
    page = ARTICLE + "\n\nDiskussion\n" + "".join(f"\n{name} wrote on Nov 2, 2023:\n{text}\n" for name, text in thread)
    doc = extract_page(page)
    assert [(c.author, c.text) for c in doc.comments] == thread


def test_one_short_line_closing_an_article_is_not_a_comment() -> None:
    doc = extract_page(ARTICLE + "\nH/T Doug Ross\n")
    assert doc.comments == [] and doc.article[-1] == "H/T Doug Ross"


def test_page_without_comments() -> None:
    doc = extract_page(ARTICLE)
    assert doc.comments == [] and len(doc.article) == 3


def test_dump_of_only_comments() -> None:
    page = "Worst idea ever, I can't believe you people fall for this!!\n\nWhy would anyone pay for that? lol\n\nYou are so right, thanks.\n"
    doc = extract_page(page)
    assert doc.article == [] and doc.title is None
    assert [c.text for c in doc.comments] == [ln for ln in page.split("\n") if ln]


def test_front_matter_dates_become_strings() -> None:
    doc = extract_page("---\ndate: 2023-11-01\ntags: [a, b]\n---\n\n# A Title\n\n" + ARTICLE)
    assert doc.metadata == {"date": "2023-11-01", "tags": ["a", "b"]}
    assert doc.title == "A Title" and len(doc.article) == 3


def test_html_disqus_and_schema_comments_stay_out_of_article() -> None:
    body = "".join(f"<p>{line}</p>" for line in ARTICLE.strip().split("\n"))
    html = (
        "<!DOCTYPE html><html><head><title>Clinic opens</title></head><body><article><h1>Clinic opens</h1>"
        f"{body}</article>"
        "<div id='disqus_thread'><ul><li class='post'><span class='author'>Ann</span>"
        "<div class='post-message'><p>Disqus comment about the clinic and its many patients.</p></div></li></ul></div>"
        "<div itemprop='comment'><span itemprop='author'>Bob</span><div itemprop='text'>Schema comment on the clinic funding.</div></div>"
        "</body></html>"
    )
    doc = extract_page(html)
    assert [(c.id, c.author, c.text) for c in doc.comments] == [
        ("c1", "Ann", "Disqus comment about the clinic and its many patients."),
        ("c2", "Bob", "Schema comment on the clinic funding."),
    ]
    assert doc.title == "Clinic opens"
    assert not any("comment" in p for p in doc.article)
    assert any("Health officials said" in p for p in doc.article)


def test_html_bare_comment_blocks_and_their_replies() -> None:
    # A "comments" section whose comment blocks have no body element: each block's own text, without
    # its author line and without the replies nested in it, which are comments of their own.
    body = "".join(f"<p>{line}</p>" for line in ARTICLE.strip().split("\n"))
    html = (
        f"<html><head><title>Clinic opens</title></head><body><article>{body}</article>"
        "<section class='comments'><h2>Comments</h2>"
        "<div class='comment'><span class='author'>Di</span><p>The clinic should have opened years ago.</p>"
        "<div class='comment'><span class='author'>Sam</span><p>Better late than never.</p></div></div>"
        "<div class='comment'><span class='author'>Lee</span> Thanks for covering this.</div>"
        "</section></body></html>"
    )
    doc = extract_page(html)
    assert [(c.author, c.text) for c in doc.comments] == [
        ("Di", "The clinic should have opened years ago."),
        ("Sam", "Better late than never."),
        ("Lee", "Thanks for covering this."),
    ]
    assert not any("clinic should have opened" in p or "Better late" in p for p in doc.article)
    assert any("Health officials said" in p for p in doc.article)


@pytest.mark.parametrize(
    "text,feature",
    [("frio do caralho, e agora 😩", "emoji"), ("为了高桥来看的[捂脸]", "emoji"), ("Nein, nicht die neuen #Servicetweet", "hashtag"),
     ("kkkkkkk ê pqp", "letter_run")],
)
def test_reader_talk_features_of_any_language(text: str, feature: str) -> None:
    from moderation.extract.segmenter import REGION_FEATURES, region_features

    on = dict(zip(REGION_FEATURES, region_features(Line(index=0, text=text), None, 1, 5.0)[0]))
    off = dict(zip(REGION_FEATURES, region_features(Line(index=0, text="Officials said the plan was approved on 3 May."), None, 1, 5.0)[0]))
    assert on[feature] == 1.0 and off[feature] == 0.0


@pytest.mark.parametrize("text", ["Assine o 247, apoie por Pix e assista:", "O conhecimento liberta. Siga-nos no Telegram.", "Jetzt abonnieren und nichts verpassen"])
def test_subscribe_prompts_in_other_languages_are_boilerplate(text: str) -> None:
    assert kind_of(text)[0] == "boilerplate"


def test_comment_link_above_an_article_without_thread() -> None:
    doc = extract_page("- 5 Kommentare\n" + ARTICLE + ARTICLE.replace("clinic", "hospital"))
    assert doc.comments == [] and len(doc.article) == 7



def test_drawn_rule_is_article_furniture_not_a_thread_opener() -> None:
    from moderation.extract.lines import split_lines
    from moderation.extract.text import DATELINE, tag_lines

    lines = split_lines(ARTICLE + "\n—————\n\nYou know you want a plush spleen.\n")
    tag_lines(lines, has_title=False)
    assert [ln.kind for ln in lines if ln.text == "—————"] == [DATELINE]


def test_screen_names_never_end_a_sentence_or_carry_an_emoticon_code() -> None:
    from moderation.extract.rules import plausible_name

    assert plausible_name("北京网友123") and plausible_name("skeptic_99")
    assert not plausible_name("黑人也以白为美啊[思考]") and not plausible_name("Stupid, fat fools.")


def test_short_comment_glued_to_the_next_is_a_comment_not_its_author() -> None:
    thread = ["Typical.", "Oh please. You got a bunch of them elected and now you want a refund? lol",
              "Don't give up Billy, you were so close!!", "WTF is this, who signed off on that?? Fire them all."]
    doc = extract_page(ARTICLE + "\n\nComments\n\n" + "\n".join(thread) + "\n")
    assert [(c.author, c.text) for c in doc.comments] == [(None, t) for t in thread]


POSTS = [
    ("November 5, 2012 · 7:17 PM", [
        "The city council approved the new cycling budget on Monday after a two-hour debate over the cost of the lanes.",
        "The plan adds 40 kilometres of protected lanes over three years, paid for from the transport fund.",
        "Officials said work on the first section, along the river, would begin in the spring.",
        "Opponents on the council argued that the money should go to road repairs, which have been delayed since 2010.",
    ]),
    ("October 26, 2012", [
        "The regional rail operator said on Friday that services would be reduced during the storm.",
        "Trains on the coastal line will stop at 6 p.m., and buses will replace them on two branch lines.",
        "The operator expects to publish a revised timetable for the weekend on Saturday morning.",
        "Passengers with season tickets will be able to claim a refund for the cancelled services.",
    ]),
    ("October 19, 2012", [
        "The annual report of the county library service shows that loans of electronic books doubled last year.",
        "Printed loans fell by eight percent, the report says, while visits to the branches stayed level.",
        "The service plans to extend opening hours at the two busiest branches from January.",
        "A public consultation on the changes runs until the end of November.",
    ]),
]


def test_dated_posts_of_a_blog_page_are_article_not_comments() -> None:
    page = "City Desk: the week in brief\n\n" + "\n\n".join(f"{date}\n" + "\n".join(paras) for date, paras in POSTS) + "\n"
    doc = extract_page(page)
    assert doc.comments == []
    assert all(p in doc.article for _, paras in POSTS for p in paras)
