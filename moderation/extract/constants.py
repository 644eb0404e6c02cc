"""Every heuristic of the extraction step in one place: patterns, word lists, thresholds.

The learned part (moderation/extract/segmenter.json) decides what rules cannot:
where the article ends and the comments begin, and whether a short line is an
author name.  Rules here only cover markers that are unambiguous.
"""

from __future__ import annotations

import re

# --- input handling ---------------------------------------------------------
# Real page dumps are < 200 kB; beyond this we keep the head and warn.
MAX_INPUT_CHARS = 2_000_000
# A file is "binary" when it has NUL bytes or too many control bytes in its head.
SNIFF_BYTES = 8192
MAX_CONTROL_RATIO = 0.10
# Above this share of U+FFFD after decoding, the file is not text at all.
MAX_REPLACEMENT_RATIO = 0.30

# Content sniffing: a page is HTML when it opens with a doctype/<html> tag, or
# when its head holds several block-level tags spread over its lines.
HTML_OPEN_RE = re.compile(r"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S)
HTML_TAG_RE = re.compile(r"<(?:p|div|article|section|span|a|li|ul|ol|h[1-6]|br|body|head|meta|script)\b[^>]*>", re.I)
MIN_HTML_TAGS = 3
# ... on at least this share of its non-blank lines.
MIN_HTML_LINE_SHARE = 0.5
FRONT_MATTER_RE = re.compile(r"\A\ufeff?---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
MARKDOWN_HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")

# --- metadata ----------------------------------------------------------------
# "date 2023-11-01 <rest of line>" prefixes seen in scraped dumps (seed 002).
DATE_VALUE = r"\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:?\d{2})?)?"
METADATA_PREFIX_RE = re.compile(rf"^(date|published|updated|modified)\s*[:=]?\s+({DATE_VALUE})\b\s*(.*)$", re.I)

# A line drawn with dashes, underscores, equals signs, asterisks or dots only: a separator.
RULE_LINE_RE = re.compile(r"^\s*[-–—―_=*~.·•]{3,}\s*$")

# --- title ------------------------------------------------------------------
TITLE_MAX_WORDS = 20
TITLE_MAX_CHARS = 160
TITLE_END_PUNCT = ".,;:!?\"”'’)"

# --- comment section structure ----------------------------------------------
# A header line opens the comment section ("32 Comments", "Join the conversation").
COMMENT_HEADER_RE = re.compile(
    r"^(?:[\W_]*)(?:"
    r"(?:\d[\d,.]*\s*k?\s+)?(?:reader\s+|user\s+|latest\s+|top\s+)?(?:comments|responses|replies|reactions)(?:\s*[\(\[]\d[\d,.]*[\)\]])?"
    # a bare singular "Comment" / "Response" is an article's section label; with a count it is a header
    r"|(?:\d[\d,.]*\s*k?\s+|reader\s+)(?:comment|response)|(?:comment|response)\s*[\(\[]\d[\d,.]*[\)\]]"
    r"|join\s+the\s+(?:conversation|discussion|debate)"
    r"|leave\s+a\s+(?:comment|reply)|post\s+a\s+comment|add\s+a\s+comment|have\s+your\s+say"
    r"|(?:what\s+)?(?:readers|you)\s+(?:are\s+)?(?:saying|think)"
    r"|(?:discussion|diskussion|conversation)\s*[\(\[]\d+[\)\]]|\d+\s+(?:discussions?|conversations?)"
    r"|comments?\s+(?:are|is)\s+(?:closed|open)"
    # the same in German, Portuguese, Spanish, French, Russian and Chinese
    r"|(?:\d[\d,.]*\s*)?(?:leser)?kommentare?(?:\s*[\(\[]\d[\d,.]*[\)\]])?|kommentieren|kommentar\s+schreiben"
    r"|(?:\d[\d,.]*\s*)?(?:coment[áa]rios?|commentaires?)(?:\s*[\(\[]\d[\d,.]*[\)\]])?"
    r"|deixe\s+(?:um|seu)\s+coment[áa]rio|deja\s+(?:un|tu)\s+comentario|laisser\s+un\s+commentaire"
    r"|(?:\d[\d,.]*\s*)?комментари[йияев]*(?:\s*[\(\[]\d[\d,.]*[\)\]])?"
    r"|(?:\d[\d,.]*\s*条)?(?:网友|全部|最新|热门|读者)?评论(?:\s*[（(\[]\d[\d,.]*[）)\]])?|发表评论|我要评论|网友留言|留言"
    r")[\W_]*$",
    re.I,
)
HEADER_MAX_WORDS = 6
# A bare section label that is a header only where the comment section opens (in an
# article, "Discussion" / "Diskussion" heads a section of the text).
WEAK_HEADER_RE = re.compile(r"^[\W_]*(?:discussion|diskussion|discuss[ãa]o|discusi[óo]n|debate|debatte|讨论|comment|kommentar|coment[áa]rio|commentaire)[\W_]*$", re.I)
# A header above the first article paragraph is a link to the thread (text.demote_teaser_header)
# when this many paragraphs without comment furniture separate it from the next header.
TEASER_MIN_PARAGRAPHS = 3
# A timestamp above this many paragraphs that read, on balance, as article prose (mean region
# log-odds at most POST_MAX_LOGIT) dates a post of a blog or live page: a reader's comment is
# rarely that long (text.demote_post_dates; TEASER_MIN_PARAGRAPHS clear paragraphs also do).
POST_MIN_PARAGRAPHS = 4
POST_MAX_LOGIT = -1.0

# Tokens that make up action bars ("Reply · 12 Likes", "Like | Reply | Report").
ACTION_TOKEN_RE = re.compile(
    r"^(?:reply|replies|respond|report(?:\s+(?:abuse|comment|this))?|flag|share|like|likes|liked|unlike|dislike|dislikes"
    r"|upvote|upvotes|downvote|downvotes|vote|votes|points?|edit(?:ed)?|delete|permalink|link|quote|follow|mute|block"
    r"|(?:show|view|read|see|hide|open)\s+(?:all\s+)?(?:\d[\d,.]*\s+)?comments?(?:\s*[\(\[]\d[\d,.]*[\)\]])?"
    r"|load\s+more(?:\s+comments)?|show\s+more(?:\s+(?:comments|replies))?|view\s+(?:more\s+)?(?:\d+\s+)?(?:more\s+)?repl(?:y|ies)"
    r"|hide\s+repl(?:y|ies)|see\s+more|more|collapse|expand|sort\s+by(?:\s*:)?(?:\s+\w+)?|newest|oldest|best|top|popular"
    r"|most\s+(?:liked|recent|popular)|log\s+in\s+to\s+(?:comment|reply)|sign\s+in\s+to\s+(?:comment|reply)"
    r"|\d[\d,.]*k?(?:\s+(?:likes?|dislikes?|repl(?:y|ies)|points?|votes?|upvotes?|downvotes?|people\s+like\s+this))?"
    r"|[+\-]?\d+|[↑↓▲▼👍👎♥❤]\s*\d*"
    r"|antworten|antwort|melden|gef[äa]llt\s+mir|\d+\s+antworten|responder|denunciar|curtir|\d+\s+curtidas?|r[ée]pondre|signaler"
    r"|回复|举报|赞|点赞|分享|(?:赞|回复)\s*[（(]?\d+[）)]?|\d+\s*赞)$",
    re.I,
)
# Vote / reaction counters alone on a line ("↑ 131 ↓ 18", "👍 12 👎 3").
VOTE_LINE_RE = re.compile(r"^(?=.*[\d↑↓▲▼👍👎♥❤])[\s\d↑↓▲▼👍👎♥❤+\-·•|,.k]+$")
# Separators between action / metadata tokens on one line.
TOKEN_SEPARATOR_RE = re.compile(r"\s*(?:[·•|]|\s[-–/]\s|\s{2,}|\t)\s*")

MONTHS = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
CLOCK = r"\d{1,2}:\d{2}(?::\d{2})?\s*(?:[ap]\.?m\.?)?(?:\s*[A-Z]{2,4})?"
# A timestamp on its own ("3 hours ago", "Nov 2, 2023 4:15 pm", "Yesterday at 4:15 PM").
TIME_TOKEN_RE = re.compile(
    r"^(?:(?:posted|updated|edited|commented)\s+(?:on\s+|at\s+)?)?(?:"
    r"(?:about\s+|over\s+|almost\s+)?(?:an?|\d+)\s*(?:s|sec|secs|seconds?|m|min|mins|minutes?|h|hr|hrs|hours?|d|days?|w|wk|weeks?|mo|months?|y|yr|years?)\s+ago"
    r"|just\s+now|moments?\s+ago|(?:yesterday|today)(?:\s+at\s+" + CLOCK + r")?"
    r"|(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s+)?" + MONTHS + r"\s+\d{1,2}(?:st|nd|rd|th)?,?(?:\s+\d{4})?,?(?:\s+(?:at\s+)?" + CLOCK + r")?"
    r"|\d{1,2}\s+" + MONTHS + r",?(?:\s+\d{4})?,?(?:\s+(?:at\s+)?" + CLOCK + r")?"
    r"|\d{4}-\d{2}-\d{2}(?:[T ]" + CLOCK + r")?|\d{1,2}/\d{1,2}/\d{2,4}(?:,?\s+" + CLOCK + r")?|" + CLOCK +
    # German, Portuguese/Spanish, French and Chinese relative and absolute times
    r"|vor\s+(?:einer?|\d+)\s+(?:sekunden?|minuten?|stunden?|tag(?:en)?|wochen?|monat(?:en)?|jahr(?:en)?)"
    r"|(?:gestern|heute)(?:,?\s+(?:um\s+)?" + CLOCK + r"(?:\s*uhr)?)?|\d{1,2}\.\s?\d{1,2}\.\s?\d{2,4}(?:,?\s+" + CLOCK + r"(?:\s*uhr)?)?"
    r"|h[áa]\s+(?:uma?|\d+)\s+(?:segundos?|minutos?|horas?|dias?|semanas?|m[eê]s(?:es)?|anos?)|(?:ontem|hoje)(?:\s+[àa]s\s+" + CLOCK + r")?"
    r"|il\s+y\s+a\s+\d+\s+(?:minutes?|heures?|jours?)"
    r"|\d+\s*(?:秒|分钟|小时|天|周|个月|年)前|刚刚|昨天(?:\s*" + CLOCK + r")?|\d{4}年\d{1,2}月\d{1,2}日(?:\s*" + CLOCK + r")?" +
    r")(?:\s*\(edited\))?$",
    re.I,
)
# Lines naming the commenter; group "name" holds the author.
NAME = r"(?P<name>[^\s:#].{0,39}?)"
AUTHOR_LINE_RES = (
    re.compile(rf"^{NAME}\s+(?:wrote|said|says|writes|commented|replied|posted)(?:\s+(?:on|at|in)\s+.{{1,60}}?)?\s*:$", re.I),
    re.compile(rf"^#\s?\d+\s*[.:)\-–]?\s+{NAME}(?:\s*(?:[·•|,\-–]|\s)\s*(?P<time>.+))?$"),
    re.compile(rf"^(?:posted|comment(?:ed)?|written|reply)\s+by\s+{NAME}(?:\s+(?:on|at)\s+(?P<time>.+))?$", re.I),
    re.compile(rf"^{NAME}\s*(?:[·•|]|\s-\s|\s–\s|,)\s*(?P<time>.+)$"),
    re.compile(rf"^@?{NAME}\s+\((?P<time>[^)]+)\)$"),
)
# Comment furniture (timestamps, bylines, action bars) counts only with another such line
# this close (text.confirm_markers); a bare number alone does not confirm one.
MARKER_SPAN = 8
MIN_MARKERS = 3  # a dateline pair ("By NAME", "Updated DATE") is not a thread
COLON_NAME_MAX_WORDS = 3  # "NAME:" bylines; "Similar Virtual Gaming Simulator:" is a label
BARE_NUMBER_LINE_RE = re.compile(r"^[+\-]?[\d\s,.:\-–]+$")
# A number alone after "NAME," is not a byline's time or action ("Cases climbed to 9,000.").
BARE_NUMBER_RE = re.compile(r"^[\d,.\s]+$")
# "NAME:" alone is only trusted inside the comment section (articles have "He said:").
AUTHOR_COLON_RE = re.compile(rf"^@?{NAME}:$")
AUTHOR_MAX_WORDS = 5
# This many "NAME:" lines above text make them comment bylines anywhere on the page.
MIN_COLON_BYLINES = 2
AUTHOR_MAX_CHARS = 40
# Words that never occur in a screen name, so "Here is what we know:" is not an author.
NOT_NAME_WORDS = frozenset(
    "the a an is are was were be this that these those what which who how why when where here there "
    "we you they he she it i my our your their his her said says say told update updated note editor "
    "read more related comments comment reply share".split()
)

# --- boilerplate --------------------------------------------------------------
BOILERPLATE_RES = tuple(
    re.compile(p, re.I)
    for p in (
        r"^advert(?:isement|ising)?$|^sponsored(?:\s+content)?$|^ad$|^story continues below(?: advertisement)?$",
        r"\bcontributed (?:to )?(?:this|the) (?:report|story|article)\b",
        r"^(?:\w+\s+){0,6}(?:reported|reporting) (?:by|from)\b.{0,80}$",
        r"\bsign(?:ing)? up (?:for|to)\b.{0,200}\b(?:newsletter|email|inbox|updates|briefing)\b",
        r"\b(?:newsletter|inbox)\b.{0,120}\b(?:sign up|subscribe|enter (?:a |your )?(?:valid )?email)\b",
        r"\bplease enter a valid email\b|\bthanks for signing up\b|\bread our privacy (?:notice|policy)\b",
        r"^(?:subscribe|sign up|register)\b.{0,100}$",
        # the same prompts in the other languages of the comment furniture (de, pt, es, fr)
        r"^(?:abonnieren|jetzt abonnieren|assine|inscreva-se|suscr[íi]bete|abonnez-vous)\b.{0,100}$",
        r"\b(?:siga-nos|folgen sie uns|s[íi]guenos|suivez-nous)\b.{0,60}$",
        r"^(?:share|tweet|email|print)(?:\s+(?:this|on|the|via|article|story|page|to)\b.{0,60})?$",
        r"^share (?:this|the) (?:article|story|page|post)\b",
        r"^follow us on\b|^like us on facebook\b",
        r"^(?:read more|related|see also|more from|recommended|most read|trending|watch)\s*(?::|$|\W{0,3}$)",
        r"^(?:read more|related|see also)\s*:",
        r"^click here\b|^(?:©|\(c\)|copyright\b).{0,120}$|\ball rights reserved\b",
        r"^(?:this (?:article|story) (?:was|has been) (?:updated|corrected)\b).{0,200}$",
        r"^(?:we use cookies|accept (?:all )?cookies)\b",
    )
)
BOILERPLATE_MAX_WORDS = 80
# ALL-CAPS related-headline interjections ("NYU STUDENT ADMITS ..."), article part only.
CAPS_HEADLINE_MIN_WORDS = 3
CAPS_HEADLINE_MIN_RATIO = 0.9

# --- scripts / translations -----------------------------------------------------
# (first, last, lang) code-point ranges; "zh" becomes "ja" when kana is present.
SCRIPT_RANGES = (
    (0x3040, 0x30FF, "ja"),
    (0x3400, 0x4DBF, "zh"),
    (0x4E00, 0x9FFF, "zh"),
    (0xF900, 0xFAFF, "zh"),
    (0xAC00, 0xD7AF, "ko"),
    (0x1100, 0x11FF, "ko"),
    (0x0400, 0x04FF, "ru"),
    (0x0600, 0x06FF, "ar"),
    (0x0750, 0x077F, "ar"),
    (0x0590, 0x05FF, "he"),
    (0x0370, 0x03FF, "el"),
    (0x0900, 0x097F, "hi"),
    (0x0980, 0x09FF, "bn"),
    (0x0E00, 0x0E7F, "th"),
    (0x0530, 0x058F, "hy"),
    (0x10A0, 0x10FF, "ka"),
)
# A line is in a foreign script when that script holds this share of its letters.
FOREIGN_SCRIPT_MIN_RATIO = 0.5
MIN_SCRIPT_LETTERS = 4

# --- learned segmenter ------------------------------------------------------------
# Lines shorter than this are not scored for article-vs-comment (too little evidence);
# they follow their neighbours.
MIN_SCORED_WORDS = 4
# Candidate author lines (checked by the author model).
AUTHOR_CANDIDATE_MAX_WORDS = 6
AUTHOR_CANDIDATE_MAX_CHARS = 50
# Scored lines on each side whose mean features are added as context features.
CONTEXT_WINDOW = 2
# Cut model: scored lines on each side of a candidate cut whose style is compared,
# and the clipping of region log-odds / changepoint margins in its inputs.
CUT_WINDOW = 3
CUT_LOGIT_CLIP = 8.0
CUT_MARGIN_CLIP = 60.0
# Cost of one comment line left inside the article, relative to one article line
# taken for a comment (text.find_boundary picks the cut that minimises expected cost).
# Was 15; 5 is the lowest value that keeps the five seeds exact with the current fit (4 leaves
# one seed comment in the article). Uncertain learned cuts are further vetted by comment_side_is_clear.
LEAK_COST = 5

# A learned cut (text.comment_side_is_clear) needs this mean region log-odds below it,
# and this much more than above it, and the cut model must give the page a thread at
# least this posterior (its mass on the cuts above the limit; a first-person blog post
# reads like reader talk, but the layout shows no thread).
MIN_COMMENT_LOGIT = 0.0
MIN_COMMENT_SHIFT = 2.0
LIKELY_THREAD_POSTERIOR = 0.5
# ... unless the cut model puts this much posterior on the page having a thread at all (on the
# cuts above the limit): then the shift alone suffices. (0.95 before: on four draws of the
# real-page benchmark, 0.85 found more comments with no article paragraph lost.)
CONFIDENT_CUT_POSTERIOR = 0.85
# ... and at this posterior, with a positive mean below, a shift of SURE_MIN_SHIFT does.
SURE_CUT_POSTERIOR = 0.95
SURE_MIN_SHIFT = 0.5
# A shift this large suffices on its own: the region model under-calls Chinese and Portuguese
# reader talk in absolute terms, but not this far apart from the article above it (2.5 took
# Chinese article paragraphs for comments on a second benchmark draw; 3 did not).
STRONG_COMMENT_SHIFT = 3.0
# ... or when the page ends with a thread footer ("Load more comments"): a page says so only below
# a thread, while a link to the comments above or beside the article reads "5 comments" or so.
THREAD_FOOTER_RE = re.compile(
    r"^(?:(?:load|show|view|see|read)\s+(?:all\s+|more\s+|older\s+)+comments|weitere\s+kommentare(?:\s+(?:laden|anzeigen))?"
    r"|alle\s+kommentare(?:\s+(?:laden|anzeigen))|(?:carregar|ver|mostrar)\s+(?:mais|todos\s+os)\s+comentários"
    r"|(?:加载|查看|展开)(?:更多|全部)评论)\s*[.…›»>)\]]*$", re.IGNORECASE)
# A learned cut with only short lines below it and no comment furniture needs this many
# text lines there ("H/T NAME", "Tags: ..." close an article; a thread has several comments).
MIN_SHORT_COMMENT_LINES = 2
# ... and with comment furniture further down, at most this many unmarked text lines above it.
MAX_UNMARKED_LINES = 2

# Emoji, emoticons and bracketed stickers ("[捂脸]"), hashtags, a letter stretched to 4+ ("kkkk", "sooo").
# "[思考]": the text form of a Weibo emoticon, written in comments but never in a screen name
EMOTICON_CODE_RE = re.compile(r"\[[\u4e00-\u9fff]{1,4}\]")
EMOJI_RE = re.compile(r"[\U0001F300-\U0001FAFF\u2639\u263A\u2764]|(?<!\w)(?:[:;=]-?[)(DPp]|[xX]D)(?!\w)|\^\^|" + EMOTICON_CODE_RE.pattern)
HASHTAG_RE = re.compile(r"(?<![\w&])#[^\W\d_]\w+")
LETTER_RUN_RE = re.compile(r"([^\W\d_])\1{3,}")
TOKEN_RE = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+|[?!]|[^\sa-z\d]", re.I)
# Words: letter runs of any alphabet; each Chinese/Japanese character is a word of its own.
_CJK = "\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff"
WORD_RE = re.compile(rf"[{_CJK}]|[^\W\d_{_CJK}]+(?:['’][^\W\d_{_CJK}]+)?")
# Pronouns and reporting verbs of the languages the benchmark covers (en, de, pt, es, fr, zh):
# reader talk is first/second person, news prose reports.
FIRST_PERSON = frozenset(
    "i me my mine myself i'm i've i'd i'll im ive ich mich mir mein meine meinen meiner je j'ai moi mon ma mes "
    "eu meu minha comigo yo mí mío mía conmigo 我".split()
)
FIRST_PLURAL = frozenset("we us our ours ourselves we're we've we'll wir uns unser unsere nous nós nosso nossa nosotros nuestro 咱".split())
SECOND_PERSON = frozenset(
    "you your yours yourself you're you've you'll u ur du dich dir dein deine euch ihr tu toi ton ta tes vous votre "
    "você vc voce vcs teu tua tú usted ustedes 你 您".split()
)
REPORTING_WORDS = frozenset(
    "said says told according reported announced stated added noted explained confirmed spokesperson "
    "officials official statement percent department agency ministry sagte sagt erklärte laut teilte mitteilte "
    "disse afirmou segundo declarou dijo según afirmó selon déclaré 表示 据 称".split()
)
SLANG_WORDS = frozenset(
    "lol lmao omg wtf idiot idiots stupid dumb moron morons libs liberals libtard trump's crap damn "
    "hell folks ya yeah yep nope gonna wanna gotta pathetic ridiculous disgusting haha hahaha kkk kkkk kkkkk rs rsrs "
    "pqp mano krl porra blz tb lá scheiße idioten dumm 哈 呵 靠 艹 傻 屌 吧 啊 吗 呢 嘛".split()
)
