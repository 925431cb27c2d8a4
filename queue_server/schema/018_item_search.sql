-- 018: finding a service item by Chinese keyword, pinyin initials or full pinyin (事项检索; docs/api.md,
-- "Finding an item"). A derived index: queue_server/domain/search.py drops and creates it again with its
-- own definition (search.TABLE, the same as here) whenever the items change (the config applied, an items
-- CSV imported), since the pinyin is computed in Python, not in SQL. Only active items are in it.
--
-- Chinese text is stored one character per token ("养 老 保 险"), so a query of any length is a phrase
-- ("养 老"); initials and pinyin are stored as every suffix of a name from a character on
-- ("ylbx lbx bx x", "yanglaobaoxian laobaoxian ..."), so "yl*" and "yangl*" find a name from any of its
-- characters without cutting the letters into syllables.
--
-- Contentless (content = ''): only the index is kept, no copy of the text, and a match is ranked without
-- reading any row; the rowid is the item's (items.rowid).
CREATE VIRTUAL TABLE item_search USING fts5(
    name,                 -- every language's name
    keywords,             -- the guide's keywords (俗称, e.g. 社保)
    initials,             -- 首字母 of the Chinese name and keywords, every suffix
    pinyin,               -- 全拼 of the Chinese name and keywords, every suffix
    department,
    guide,                -- category, recipients, conditions, materials (name and note), fee, basis
    business,             -- one token: "b" and the business code in hex (so "one_stop" is not "one stop")
    content = '',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '1 2 3'
);
