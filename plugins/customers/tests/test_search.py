"""The search tokens and the full-text queries built from them (CUS-3)."""

from crm_host import textsearch as search


def test_tokens_are_cjk_bigrams_and_words():
    assert search.tokens("北京海宇 Pacific") == ["北京", "京海", "海宇", "宇", "pacific"]
    assert search.tokens("ＡＢＣ１２") == ["abc12"]  # full-width folded


def test_only_an_unfinished_last_token_is_a_prefix():
    # A bigram is a whole token: no prefix (it would only slow the index down).
    assert search.fts5_match("科技") == '"科技"'
    assert search.pg_tsquery("科技") == "'科技'"
    # One character, or a word being typed: a prefix.
    assert search.fts5_match("海") == '"海"*'
    assert search.pg_tsquery("pac") == "'pac':*"
    # Longer CJK runs are phrases of bigrams; only the last phrase may be a prefix.
    assert search.fts5_match("北京海宇 pac") == '"北京 京海 海宇" AND "pac"*'
    assert search.pg_tsquery("pac 科技") == "'pac' & '科技'"
    assert search.fts5_match("  ") is None


def test_search_newest_first_within_scope_and_filters(api, login, customers):
    a, b = api("sales"), api("sales")
    names = ["北京海宇科技", "上海海宇贸易", "Haiyu Pacific 海宇", "无关公司"]
    ids = [a.post("/api/v1/customers", json={"name": n}).get_json()["id"] for n in names]
    b.post("/api/v1/customers", json={"name": "别人的海宇公司"})  # another's: never listed

    def listed(client, **query):
        r = client.get("/api/v1/customers", query_string=query).get_json()
        return [c["id"] for c in r["items"]], r["total"]

    assert listed(a, q="海宇") == ([ids[2], ids[1], ids[0]], 3)  # newest first
    assert listed(a, q="海宇", sort="name")[0] == [ids[2], ids[1], ids[0]]
    assert listed(a, q="海宇", sort="-id", per_page=2) == ([ids[2], ids[1]], 3)
    assert listed(a, q="海宇", page=2, per_page=2) == ([ids[0]], 3)
    assert listed(a, q="pac") == ([ids[2]], 1)
    assert listed(b, q="海宇")[1] == 1
    page = login(a.user).get("/customers/?q=海宇").get_data(as_text=True)
    where = [page.index(n) for n in ("Haiyu Pacific 海宇", "上海海宇贸易", "北京海宇科技")]
    assert where == sorted(where) and "别人的海宇公司" not in page and "无关公司" not in page
