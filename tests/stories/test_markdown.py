"""Story Markdown: known XSS vectors render inert, through `render_markdown` and on the real pages
that show stories (story page, timeline, home page excerpt, Atom feed); ordinary Markdown still
renders, and links carry rel="nofollow ugc noopener"."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from urllib.parse import unquote

import pytest

from farmstore.extensions import db
from farmstore.stories.models import StoryPost, Subject
from farmstore.text import render_markdown
from tests.stories.conftest import page_tags

REL = "nofollow ugc noopener"

VECTORS = {
    "script tag": "<script>alert(1)</script>",
    "script with src": "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "split script": "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "img onerror": "<img src=x onerror=alert(1)>",
    "img onerror, other attributes kept": '<img src="x" alt="a" title="b" onerror="alert(1)">',
    "img with backticks": "<img src=`x`onerror=alert(1)>",
    "unclosed img after markdown": "*emphasis*<img src=x onerror=alert(1)//",
    "svg onload": "<svg onload=alert(1)>",
    "script inside svg": "<svg><script>alert(1)</script></svg>",
    "svg link": '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    "markdown link javascript:": "[x](javascript:alert(1))",
    "markdown link mixed case": "[x](JaVaScRiPt:alert(1))",
    "markdown link decimal entity": "[x](&#106;avascript:alert(1))",
    "markdown link hex entities": "[x](&#x6A;&#x61;vascript:alert(1))",
    "markdown link leading space": "[x]( javascript:alert(1))",
    "markdown link tab inside": "[x](java\tscript:alert(1))",
    "markdown link newline inside": "[x](java\nscript:alert(1))",
    "markdown link &colon;": "[x](javascript&colon;alert(1))",
    "markdown link in angle brackets": "[a](<javascript:alert(1)>)",
    "markdown link data:": "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "markdown link vbscript:": "[x](vbscript:msgbox(1))",
    "markdown link breaking out of href": '[x](https://ok.example/"onmouseover="alert(1))',
    "markdown title breaking out": '[x](https://ok.example/ "t\\" onmouseover=\\"alert(1)")',
    "markdown image javascript:": "![x](javascript:alert(1))",
    "nested markdown links": "[[x](javascript:alert(1))](https://ok.example)",
    "reference-style link": "[x][1]\n\n[1]: javascript:alert(1)",
    "autolink javascript:": "<javascript:alert(1)>",
    "autolink with an event handler": '<http://ok.example" onmouseover="alert(1)>',
    "html link javascript:": '<a href="javascript:alert(1)">x</a>',
    "html link vbscript:": '<a href="vbscript:msgbox(1)">x</a>',
    "html link data:": '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    "html link tab entity": '<a href="jav&#x09;ascript:alert(1)">x</a>',
    "html link padded decimal entities": (
        '<a href="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116'
        '&#0000058&#0000097&#0000108&#0000101&#0000114&#0000116&#0000040&#0000049&#0000041">x</a>'
    ),
    "html link control character": '<a href="\x01javascript:alert(1)">x</a>',
    "html link onclick on an allowed tag": '<a href="https://ok.example" onclick="alert(1)">x</a>',
    "bold with onmouseover": "<b onmouseover=alert(1)>bold</b>",
    "img src javascript:": '<img src="javascript:alert(1)">',
    "img srcset javascript:": '<img srcset="javascript:alert(1)">',
    "td background": '<table><tr><td background="javascript:alert(1)">x</td></tr></table>',
    "attribute breaking": '"><script>alert(1)</script>',
    "iframe": '<iframe src="https://evil.example"></iframe>',
    "object": '<object data="evil.swf"></object>',
    "embed": '<embed src="evil.swf">',
    "style tag": "<style>body{background:url(javascript:alert(1))}</style>",
    "css expression": '<p style="width: expression(alert(1))">x</p>',
    "css url": '<div style="background-image:url(javascript:alert(1))">x</div>',
    "link stylesheet": '<link rel=stylesheet href="https://evil.example/x.css">',
    "math mglyph style": "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "math href": '<math href="javascript:alert(1)">click</math>',
    "math maction": '<math><maction actiontype="statusline" xlink:href="javascript:alert(1)">x</maction></math>',
    "html comment hiding script": "<!--<script>alert(1)</script>-->",
    "script between comments": "<!-- --><script>alert(1)</script><!-- -->",
    "base href": '<base href="https://evil.example/">',
    "meta refresh": '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "form action": '<form action="https://evil.example"><button>go</button></form>',
    "input autofocus onfocus": "<input onfocus=alert(1) autofocus>",
    "details ontoggle": "<details open ontoggle=alert(1)>",
    "video source onerror": '<video><source onerror="alert(1)"></video>',
    "body onload": "<body onload=alert(1)>",
    "unknown tag onclick": "<x onclick=alert(1)>x</x>",
    "noscript title breakout": '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "xmp title breakout": '<xmp><p title="</xmp><img src=x onerror=alert(1)>">',
    "select noembed": "<select><noembed></select><script>alert(1)</script>",
    "template script": "<template><script>alert(1)</script></template>",
    "rel=opener target=_blank": '<a href="https://ok.example/" target="_blank" rel="opener">x</a>',
}

# Never in anything a story renders to.
PAGE_FORBIDDEN_TAGS = {
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "style", "base", "svg", "math",
    "template", "noscript", "xmp", "video", "audio", "source", "marquee",
}  # fmt: skip
# Also never inside user Markdown (the page around it has its own menu, forms and meta tags).
PROSE_FORBIDDEN_TAGS = PAGE_FORBIDDEN_TAGS | {
    "form", "input", "button", "select", "textarea", "details", "meta", "link", "html", "head", "body", "title",
}  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "srcset", "action", "formaction", "background", "poster", "data", "xlink:href"}


def is_script_url(value: str) -> bool:
    """True for a URL a browser would run or render as a document. Browsers read a URL with the
    control characters and spaces around it trimmed and every tab and newline removed."""
    url = re.sub(r"[\t\n\r]", "", value.strip("".join(map(chr, range(0x21)))))
    return url.lower().startswith(("javascript:", "vbscript:", "data:"))


def assert_inert(html: str, *, whole_page: bool = False) -> None:
    """No script, no event handler, no inline style, no script URL, no embedding tag; every link in
    user Markdown has our rel. On a whole page, the stricter tag list applies inside `prose`."""
    if whole_page:  # the page's own scripts, files from /static with nothing inline, are allowed
        html = re.sub(r'<script src="/static/js/[a-z_]+\.js" defer></script>', "", html)
    assert "<script" not in html.lower()
    parsed = page_tags(html)
    for tag in parsed.tags:
        markdown = tag.in_prose or not whole_page
        assert tag.name not in (PROSE_FORBIDDEN_TAGS if markdown else PAGE_FORBIDDEN_TAGS), tag
        assert [name for name in tag.attributes if name.startswith("on")] == [], tag
        assert "style" not in tag.attributes, tag
        assert [v for name, v in tag.attributes.items() if name in URL_ATTRIBUTES and is_script_url(v)] == [], tag
        if markdown and tag.name == "a":
            assert tag.attributes.get("rel") == REL, tag


@pytest.mark.parametrize("vector", VECTORS.values(), ids=VECTORS.keys())
def test_an_xss_vector_renders_inert(vector):
    assert_inert(str(render_markdown(vector)))


def test_the_checks_catch_what_they_look_for():
    for unsafe in (
        "<p><script>x</script></p>",
        '<img src="x" onerror="y">',
        '<a href=" java&#9;script:x" rel="nofollow ugc noopener">x</a>',
        '<a href="https://ok.example/">no rel</a>',
        "<iframe></iframe>",
        '<p style="color: red">x</p>',
    ):
        with pytest.raises(AssertionError):
            assert_inert(unsafe)


@pytest.mark.parametrize("vector", VECTORS.values(), ids=VECTORS.keys())
def test_an_xss_vector_is_inert_on_every_page_that_shows_the_story(app, client, farm, vector):
    with app.app_context():
        post = db.session.get(StoryPost, farm.post_id)
        post.title, post.body = vector[:120], vector
        db.session.get(Subject, farm.subject_id).description = vector
        db.session.commit()

    for path, prose_blocks in ((farm.post_url, 1), (farm.subject_url, 2), ("/", 0)):
        response = client.get(path)
        page = response.get_data(as_text=True)
        assert response.status_code == 200
        assert page_tags(page).prose_blocks == prose_blocks  # the story really is rendered as Markdown here
        assert_inert(page, whole_page=True)
        assert farm.post_url in unquote(page)  # the story is on the page
    feed = client.get(f"/producers/{farm.producer_slug}/stories.atom").get_data(as_text=True)
    assert "<script" not in feed.lower()
    entry = ET.fromstring(feed).find("{http://www.w3.org/2005/Atom}entry")  # noqa: S314 (our own feed)
    assert_inert(entry.find("{http://www.w3.org/2005/Atom}content").text or "")


SAFE_MARKDOWN = """Calved at **dawn**, and *both* are fine.

- colostrum
- a warm pen

1. weigh
2. tag

> Mother knows best.

Read [how we raise them](https://farm.example/how?x=1&y=2) or [write to us](mailto:farm@farm.example)."""


def assert_renders_safe_markdown(html: str) -> None:
    """`html` contains SAFE_MARKDOWN rendered."""
    assert "<strong>dawn</strong>" in html
    assert "<em>both</em>" in html
    assert "<ul>\n<li>colostrum</li>\n<li>a warm pen</li>\n</ul>" in html
    assert "<ol>\n<li>weigh</li>\n<li>tag</li>\n</ol>" in html
    assert "<blockquote>\n<p>Mother knows best.</p>\n</blockquote>" in html
    assert f'<a href="https://farm.example/how?x=1&amp;y=2" rel="{REL}">how we raise them</a>' in html
    assert f'<a href="mailto:farm@farm.example" rel="{REL}">write to us</a>' in html


def test_ordinary_markdown_still_renders():
    html = str(render_markdown(SAFE_MARKDOWN))

    assert_renders_safe_markdown(html)
    assert_inert(html)


def test_ordinary_markdown_renders_on_the_story_page(app, client, farm):
    with app.app_context():
        db.session.get(StoryPost, farm.post_id).body = SAFE_MARKDOWN
        db.session.commit()

    assert_renders_safe_markdown(client.get(farm.post_url).get_data(as_text=True))


@pytest.mark.parametrize("text", [None, ""])
def test_no_text_renders_nothing(text):
    assert render_markdown(text) == ""
