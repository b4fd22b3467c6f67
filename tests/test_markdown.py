"""crm_host.markdown: what people write is rendered, then sanitised."""

from crm_host.markdown import excerpt, plain, render


def test_scripts_handlers_and_javascript_links_never_survive():
    links = render('<a href="javascript:alert(1)">x</a> [y](javascript:z) [ok](https://a.example)')
    assert links.count("<a ") == 1 and '<a href="https://a.example"' in links
    html = render(
        '<script>alert(1)</script> <img src=x onerror="alert(2)"> [x](javascript:alert(3)) **ok**'
    )
    # Raw HTML is shown as text, and a javascript: link is not a link.
    assert "<script" not in html and "<img" not in html and "href" not in html
    assert "&lt;script&gt;" in html
    assert "<strong>ok</strong>" in html


def test_pictures_and_alignment_can_be_left_out():
    text = "![logo](https://example.com/a.png)\n\n| a |\n|:-:|\n| 1 |"
    assert '<img src="https://example.com/a.png"' in render(text)
    assert 'style="text-align:center"' in render(text)
    bare = render(text, images=False, alignment=False)
    assert "<img" not in bare and "style=" not in bare and "<td>1</td>" in bare


def test_plain_text_and_excerpts():
    assert plain("# 標題\n\n**理賠** &amp; [連結](https://x.example)") == "標題 理賠 & 連結"
    assert excerpt("a " * 100, 10) == "a a a a a…"
