"""Deterministic demo feedback for "Pennywise", a fictional budgeting app, with ground truth.

`make demo` loads this on a fresh install, and the analysis code (themes, sentiment, rising
themes) is tested on it, so every record carries its true theme and sentiment in `metadata`.
Pure Python on purpose: it must run without Django, a database or a network.
"""

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

ITEM_KINDS = ("review", "ticket", "social_post")
SENTIMENTS = ("negative", "neutral", "positive")
RISING_THEME = "receipt_crash_52"


@dataclass(frozen=True)
class DemoSource:
    name: str
    item_kind: str


DEMO_SOURCES: tuple[DemoSource, ...] = (
    DemoSource("App Store reviews", "review"),
    DemoSource("Support tickets", "ticket"),
    DemoSource("Social mentions", "social_post"),
)
_SOURCE_BY_KIND = {source.item_kind: source.name for source in DEMO_SOURCES}

# Templates, one a line, under "[theme key]". The first character says what a line is:
#   "-" negative, "=" neutral, "+" positive text; "&" a problem detail, "*" a praise detail
#   (extra sentences for tickets and longer reviews); "#" a ticket subject or complaint title.
# "(a|b|c)" picks one wording (they may nest) and "{slot}" a filler from SLOT_VALUES or _slots,
# so that few texts come out identical.
# Each theme has its own vocabulary (sync, 2FA, price, household...) so that clustering can find
# it; the shared openers and closers further down are noise that clustering must look past.
THEME_TEMPLATES = """
[bank_sync]
- My {bank} account (hasn't synced|stopped syncing|won't sync) {since}, so my balances are wrong.
- Bank sync keeps failing with {bank}. It says '(connection error|unable to connect)' every time.
- Transactions from {bank} show up (days late|a week late) or not at all. (Useless|Pointless).
- I had to re-link my {bank} account {n} times this month because the connection keeps dropping.
- Sync (pulled in|imported) duplicate {bank} transactions, so my {category} spending looks doubled.
- Ever since {bank} changed their login page, Pennywise can't (connect to it|sync it) anymore.
= Is there a known issue with {bank} syncing? My last successful sync was {n} days ago.
= How often does Pennywise pull new transactions from {bank}? Mine (seem to|only) update once a day.
= Does bank sync work with {bank} (savings|credit card|joint) accounts or only checking?
+ Bank sync with {bank} is (finally|actually) reliable, transactions show up within minutes.
+ Connecting my {bank} account took (a minute|two minutes) and every transaction imported cleanly.
& (I already tried|I've tried) (disconnecting and re-linking|removing and re-adding) the account.
& (The error code is {error_code}.|The app just shows error {error_code}.)
& (My other accounts sync fine, it's only {bank}.|Pending transactions never turn into posted.)
# (Bank sync failing for {bank}|{bank} won't connect|Transactions not syncing|Sync error)
[login_2fa]
- I can't log in because the (2FA|verification|two-factor) code never arrives by (text|SMS).
- The verification code expires before it even reaches my phone, so I'm (locked out|stuck).
- Face ID login stopped working on my {device} and now it wants a password I never set.
- Every time I open the app it logs me out and asks for a new (two-factor|2FA) code.
- (I changed|I got a new) phone number and now I can't get 2FA codes, and I can't (reset|fix) it.
- My account got locked after {n} login attempts even though the password is (right|correct).
= How do I switch (2FA|two-factor authentication) from SMS to an authenticator app?
= (Can I skip the login code on my trusted {device}?|How do I recover 2FA if I lose my phone?)
+ Setting up 2FA with an authenticator app was painless and Face ID login is instant.
+ Support unlocked my account (within an hour|the same day) after the 2FA mixup. Impressed.
& (I've requested a new code {n} times.|(Resetting|Changing) my password didn't help.)
& It happens on the web app and on my {device} (too|as well).
& I'm completely locked out, so I can't see any of my budgets.
# (Can't log in|2FA code not arriving|Locked out of my account|Login problem)
[pricing]
- (The Plus plan|My plan) went from $5.99 to $8.99 a month with (barely any|no) (notice|warning).
- Paying {price} for Plus when half the premium features feel unfinished. Not worth it.
- I was charged for the annual plan even though I cancelled during the (free trial|trial week).
- Bank sync used to be free and now it's behind the (subscription|paywall). Bait and switch.
- (Way|Far|Much) too expensive for a budgeting app when free (alternatives|apps) do the same.
- I got billed twice for my subscription (this month|last month) and I'm still waiting on a refund.
= What's the difference between the Plus and Family plans? Is {price} the (only|lowest) price?
= Do you offer a (student|military) discount or a cheaper plan than {price}?
= If I switch from monthly to annual billing, do I lose the days I already paid for?
+ The annual plan is worth it (for me|for us), it paid for itself in the first month.
+ Fair price for what you get, and the free trial was long enough to decide. {price} is fine.
& (The cancel button in settings just loops back to the plans page.|I want a refund.)
& I'd happily pay {price} if the app worked (reliably|properly).
# (Unexpected charge|Price increase|Refund request|Cancel my subscription|Billing question)
[shared_budgets]
- No way to share a budget with {partner}, so we're back to a (spreadsheet|notebook).
- Dealbreaker (for us|for my household): {partner} and I can't use the same budget on two phones.
= Any plans for shared household budgets? {partner_cap} and I want to track {category} together.
= Feature request: let two people in a household (edit|share) one budget with separate logins.
= Would (love|like) a joint budget where {partner} and I can both log expenses.
= Can I invite {partner} to my budget, or does (everyone|each person) need a subscription?
+ Love the app, the only thing missing is a shared budget so {partner} can add expenses too.
+ Great for me, and if you add household sharing I'll (move|bring) {partner} over (too|as well).
& (We split rent and {category} but keep separate cards.|We pass one phone back and forth.)
& Even a read-only view for {partner} would help.
* {partner_cap} keeps asking to see our budget too.
# (Shared household budget?|Feature request: joint budgets|Budget sharing)
[budgeting_ui]
- The redesigned budget screen hides the remaining amounts behind an extra tap.
- Too many charts on the dashboard now, I just want a (simple|plain) list of my categories.
= (Is there a dark mode for the budget (view|screen)?|Can I reorder the budget categories?)
= Could the budget (view|screen) show {category} spending (by week|per week) too?
+ The budget screen is (beautiful|gorgeous|so clean) and I finally see where my money (goes|went).
+ (Love|Really like) the envelope-style categories, moving money between budgets is (so|super) easy.
+ (Cleanest|Nicest) budget layout I've used. The progress bars keep me honest about {category}.
+ The dashboard shows (how much is|what's) left (in each category|for {category}) at a glance.
+ Finally a budget app that (makes sense|clicks) for me. I stayed under my {category} budget!
+ Setting up monthly budgets took (minutes|no time) and the (layout|design) is so intuitive.
+ I've tried (every|so many) budgeting apps and this is the first one I (actually|really) kept.
+ The colour-coded categories and (spending|monthly) charts are (genuinely|actually) fun to use.
* I cut about {amount} from {category} last month just by seeing it clearly.
* (Setting up my categories took (five|ten) minutes.|The weekly spending summary is a nice touch.)
& I liked the old layout better.
# (Budget screen redesign|Dashboard feedback)
[performance]
- The app is (painfully|really|so) slow, it takes {secs} seconds just to open the dashboard.
- Scrolling through transactions lags and stutters on my {device}.
- Everything freezes for a (few|couple of) seconds (whenever I switch tabs|when I open a budget).
- Since the last update the app drains my battery and my {device} gets hot.
- The monthly report (spins forever|takes forever to load) and sometimes never (loads|shows up).
- Typing in the (search box|notes field) is so laggy the letters show up (a second|seconds) later.
= (Is the web version supposed to load this slowly?|Any tips to make the app faster?)
= I have about {n},000 transactions in there, is that why it's (slow|sluggish)?
+ Feels (much|way) snappier after the latest update, the dashboard opens instantly now.
& (I have about {n},000 transactions, maybe that's why.|Reinstalling made no difference.)
& Other apps run fine on this {device}.
# (App very slow|Laggy and freezing|Slow loading|Performance issues)
[bill_reminders]
- I get {n} reminder notifications for the same bill, it's driving me (nuts|crazy).
- The app never reminded me about my {bill} bill and I got hit with a late fee.
- Bill reminders pop up at (3am|2am) and again at (6am|7am). Way too many notifications.
- Reminders keep firing for (a|my {bill}) bill I already paid (last week|days ago).
- I missed my {bill} payment because the due-date reminder never came.
= Can I choose how many days before the due date bill reminders go out?
= Is there a way to get bill reminders by (email|text) instead of push notifications?
+ Bill reminders have saved me from at least {n} late fees this year.
+ Love getting a heads-up (two|three) days before my {bill} bill is due.
& (Notifications are allowed in my phone settings.|The reminder is set for {n} days before.)
& I've turned reminders off and on again.
* Haven't missed (one|a single) payment since.
# (Missed bill reminder|Too many notifications|Duplicate bill alerts)
[csv_export]
- I can't believe there's still no CSV export. My data is stuck in the app.
- The export only gives me a PDF, which is useless in a spreadsheet.
- The CSV export stops after {n}00 rows and mixes up the date format.
= Is there a way to export my transactions to CSV for my (accountant|tax preparer)?
= Feature request: CSV or Excel export of spending by (category|month).
= Please add a CSV export so I can do my {year} taxes in a spreadsheet.
= How do I download all my {year} transactions as a (spreadsheet|CSV file)?
+ The new CSV export saved me hours at tax time.
& (I need it for tax season.|Even a simple date, payee, amount, category file would do.)
& I'd like to open it in (Google Sheets|Excel).
# (CSV export|Export transactions to Excel|Data export request)
[receipt_accuracy]
- Receipt scanning reads totals wrong, my {amount} {store} receipt came out as {amount2}.
- The receipt scanner can't read (crumpled|faded|long) receipts at all.
- Scanned receipts get the merchant name wrong and land under 'Other'.
- The scanner picks up the tax line instead of the total (almost every time|half the time).
- It took {n} tries to get the scanner to read one {store} receipt.
= Does receipt scanning handle long {store} receipts, or do I take two photos?
= Can I attach a scanned receipt to a transaction that's already imported?
+ Receipt scanning is (scary|super) accurate, it even split my {store} receipt into categories.
+ Snapping a (receipt|photo) and having it match the card transaction is (magic|brilliant).
& (Good lighting, flat on the table, still wrong.|I fix the amount by hand, what's the point?)
& It's worst with receipts from {store}.
* No more shoebox full of paper receipts.
# (Receipt scan wrong amount|Scanner misreads receipts)
[receipt_crash_52]
- Since updating to {version} the app crashes every time I open the receipt scanner.
- After the 5.2 update, scanning a receipt (closes|crashes) the app (instantly|right away).
- The app crashes as soon as I tap 'Scan receipt'. Started with {version}.
- The camera opens for a second, then the app crashes when I scan a receipt. On {version}.
- Receipt scanning is broken in the new update, it crashes every time on my {device}.
- Updated (this morning|yesterday) and now Pennywise crashes mid-scan and loses the receipt.
= Anyone else getting a crash when scanning receipts on {version}? Is a fix coming?
= Known issue? The app closes when I scan receipts since the latest update.
& (Reinstalling the app didn't fix it.|It worked fine on 5.1.)
& I granted camera permission again and it still crashes.
& It happens with every receipt, not just long ones.
# (App crashes when scanning receipt|Crash on receipt scan after update|Scanner crash)
[other]
- I've emailed support {n} times about my account and nobody has replied.
= How do I change the (email address|phone number|name) on my account?
= (Is Pennywise available in {country}?|Can I change the currency to {currency}?)
= How do I (delete|close) my account and (all my data|everything in it)?
= (Do you have a referral program?|Is there an Apple Watch app?|Do you have a Mac app?)
+ Just wanted to say your support team is (lovely|great|so helpful).
& (I signed up {n} years ago.|I use the app on my {device}.)
# (Account question|Quick question|Change email)
"""
# Shared wordings around the theme sentence, in the same format.
SHARED_PHRASES = """
[review_openers]
- (Really frustrated.|Used to love this app.|Ugh.|Long-time user here.|Not happy.|Sigh...)
= (Decent app overall.|Quick question.|Been using it for {n} months.|Mostly fine.|Good app, but...)
+ (Love it!|Using Pennywise for {n} months now.|Honestly impressed.|So glad I switched.|Wow.)
[review_closers]
- (Please fix this.|Thinking about switching apps.|Very disappointing.|Not OK for a paid app.)
- (Fix it and I'll change my rating.|Deleting the app until this is fixed.|Come on, Pennywise.)
= (Thanks.|Otherwise a solid app.|Would appreciate an answer.|Other than that it's fine.)
= (Decent so far.|Still a good app.|Let me know.|Just curious.|Thanks in advance!)
+ (Keep it up!|Highly recommend.|Worth every penny.|Thanks, team!|Can't recommend it enough.)
+ (Love this app.|Best purchase this year.|Happy customer.|My wallet thanks you.|Great job!)
[review_context]
= ((On|Using it on) my {device}.|{device} user here.|Latest version, {device}.|{device}, {version}.)
[review_titles]
- (Frustrating|Disappointed|Was great, now broken|Needs work|Getting worse)
= (Decent|Good but missing things|A few questions|Almost there|Solid, not perfect)
+ (Love it|Great app|Finally a budget app that works|Life changer|Does what I need)
[ticket_asks]
- (Can you please look into this?|Please help, this is urgent.|What should I do?)
- (I'd appreciate a quick fix.|Please let me know when this is fixed.)
= (Thanks in advance.|Could you point me in the right direction?|Any help is appreciated.)
+ (No reply needed, just wanted to share.|Keep up the good work.)
[post_mentions]
= (@pennywiseapp|hey @pennywiseapp|@PennywiseHelp|@pennywiseapp pls|yo @pennywiseapp)
[post_tags]
- (#fail|#fixit|#pennywise|smh|not cool|#appfail|😤|🙄|ugh)
= (#pennywise|#budgeting|#askingforafriend|anyone?|🤔)
+ (#budgeting|#personalfinance|#pennywise|#moneytips|10/10|🙌|❤️)
"""
_MARKERS = dict(zip("-=+&*#", (*SENTIMENTS, "problem", "praise", "titles"), strict=True))
_ALTERNATIVES = re.compile(r"\(([^()]*\|[^()]*)\)")


def _parse_templates(block: str) -> dict[str, dict[str, tuple[str, ...]]]:
    """Read text in the THEME_TEMPLATES format into {section: {line kind: lines}}."""
    parsed: dict[str, dict[str, tuple[str, ...]]] = {}
    for line in filter(None, map(str.strip, block.splitlines())):
        if line.startswith("["):
            current = parsed.setdefault(line.strip("[]"), dict.fromkeys(_MARKERS.values(), ()))
        else:
            current[_MARKERS[line[0]]] += (line[2:],)
    return parsed


@dataclass(frozen=True)
class Theme:
    key: str
    weight: float  # relative volume, before the per-kind affinity
    sentiment: tuple[float, float, float]  # weights in SENTIMENTS order
    affinity: tuple[float, float, float]  # how often each of ITEM_KINDS talks about it
    topic: str  # fills subjects such as "Question about {topic}"
    texts: dict[str, tuple[str, ...]]  # from THEME_TEMPLATES


# weight, sentiment (negative, neutral, positive), affinity (review, ticket, post), topic.
# The rising theme's weight is unused: its share is set per week (RISING_SHARE_*).
THEME_PARAMS = {
    "bank_sync": (14, (75, 15, 10), (1.0, 1.3, 0.8), "bank sync"),
    "login_2fa": (10, (70, 25, 5), (0.7, 1.6, 0.7), "logging in"),
    "pricing": (11, (75, 20, 5), (1.2, 0.8, 1.1), "my subscription"),
    "shared_budgets": (8, (20, 55, 25), (1.0, 0.8, 1.0), "shared budgets"),
    "budgeting_ui": (15, (8, 12, 80), (1.4, 0.3, 1.2), "the budget screen"),
    "performance": (10, (85, 10, 5), (1.1, 0.9, 1.0), "app speed"),
    "bill_reminders": (9, (60, 15, 25), (1.0, 1.0, 0.9), "bill reminders"),
    "csv_export": (6, (35, 60, 5), (0.8, 1.3, 0.7), "exporting data"),
    "receipt_accuracy": (8, (50, 12, 38), (1.0, 1.0, 1.0), "receipt scanning"),
    RISING_THEME: (0, (95, 5, 0), (1.0, 1.0, 1.0), "receipt scanning"),
    "other": (5, (10, 80, 10), (0.6, 1.6, 0.8), "my account"),
}
_TEXTS = _parse_templates(THEME_TEMPLATES + SHARED_PHRASES)
THEMES = tuple(Theme(key, *params, texts=_TEXTS[key]) for key, params in THEME_PARAMS.items())
_THEME_BY_KEY = {theme.key: theme for theme in THEMES}

# Share of each week's volume that is the rising crash, by weeks before `end` (0 = the last
# week): beta testers hit it first, then 5.2 ships to everyone two weeks before the end.
RISING_SHARE_BY_WEEKS_BEFORE_END = {0: 0.3, 1: 0.2, 2: 0.025}
RISING_SHARE_EARLY = 0.008
RELEASE_52_DAYS_BEFORE_END = 13
KIND_WEIGHTS = (0.40, 0.33, 0.27)
# Reviews lean positive (happy users rate), tickets lean negative (people write when stuck).
KIND_SENTIMENT_FACTORS = {
    "review": (0.85, 0.8, 2.1),
    "ticket": (1.15, 1.25, 0.3),
    "social_post": (1.0, 1.0, 1.25),
}
RATING_WEIGHTS = {  # stars 1..5: the sentiment mostly decides the rating, not always
    "negative": (55, 30, 11, 3, 1),
    "neutral": (4, 12, 44, 32, 8),
    "positive": (0, 1, 5, 34, 60),
}
# Most users are in the Americas: 12-04 UTC is morning to midnight on the US east coast.
HOUR_WEIGHTS = (6, 5, 4, 3, 2, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6)
WEEKDAY_WEIGHTS = (1.2, 1.15, 1.1, 1.05, 1.0, 0.75, 0.8)

# Slot fillers, kept compact by hand: one value a line would double the file.
# fmt: off
SLOT_VALUES: dict[str, tuple[object, ...]] = {
    "bank": ("Chase", "Wells Fargo", "Bank of America", "Capital One", "Ally", "Chime", "Citi",
             "US Bank", "Navy Federal", "Discover", "SoFi", "PNC", "TD Bank", "Schwab"),
    "store": ("Walmart", "Target", "Costco", "Trader Joe's", "Whole Foods", "CVS", "Home Depot",
              "Kroger", "Safeway", "Walgreens"),
    "category": ("groceries", "dining out", "gas", "shopping", "utilities", "travel", "coffee"),
    "bill": ("rent", "electric", "phone", "car insurance", "credit card", "internet", "water"),
    "partner": ("my wife", "my husband", "my partner", "my roommate", "my girlfriend",
                "my boyfriend"),
    "since": ("since Tuesday", "for three days", "since the weekend", "for over a week",
              "all week"),
    "price": ("$8.99 a month", "$79.99 a year", "$8.99/mo", "$5.99 a month"),
    "year": (2023, 2024),
    "country": ("Canada", "the UK", "Australia", "Ireland", "Mexico", "Germany"),
    "currency": ("euros", "pounds", "Canadian dollars", "pesos"),
}
DEVICES = {
    "ios": ("iPhone 13", "iPhone 15 Pro", "iPhone 14", "iPhone SE", "iPad Air", "iPhone 12"),
    "android": ("Pixel 7", "Pixel 8", "Galaxy S23", "Galaxy A54", "OnePlus 11", "Moto G"),
    "web": ("laptop", "MacBook", "work computer", "Chromebook"),
}
FIRST_NAMES = ("Dana", "Mike", "Priya", "Carlos", "Jen", "Tom", "Aisha", "Kevin", "Maria", "Sam",
               "Lauren", "Omar", "Beth", "Tyler", "Grace", "Luis", "Nina", "Derek", "Kim", "Raj")
LAST_NAMES = ("Kim", "Alvarez", "Patel", "Nguyen", "Smith", "Johnson", "Okafor", "Brown",
              "Garcia", "Miller", "Chen", "Davis", "Lopez", "Wilson", "Murphy", "Singh")
# fmt: on
HANDLE_WORDS = ("budget", "frugal", "money", "penny", "coffee", "debtfree", "saver", "fi")
TICKET_GREETINGS = ("Hi,", "Hello,", "Hi support team,", "Hey there,", "Good morning,", "")
TICKET_SIGN_OFFS = ("Thanks,", "Best,", "Regards,", "Thank you,", "Cheers,")
MOBILE = ("ios", "android")
POST_PLATFORMS = ("x", "reddit", "bluesky", "facebook")
TICKET_CHANNELS = ("email", "chat", "web_form", "in_app")
URGENT_THEMES = {"bank_sync", "login_2fa", RISING_THEME}
_ID_FORMATS = {"review": "rev-{:06d}", "ticket": "TCK-{:05d}", "social_post": "post-{:09d}"}
_ID_STARTS = {"review": 4100, "ticket": 18200, "social_post": 731000000}


def _last_sunday(today: date) -> date:
    """Return the most recent Sunday strictly before `today`, so the last week is complete."""
    return today - timedelta(days=today.weekday() + 1)


def _pick_theme(rng: random.Random, kind: str, rising_share: float) -> Theme:
    """Draw the rising crash by its weekly share, the other themes by weight and kind."""
    if rng.random() < rising_share:
        return _THEME_BY_KEY[RISING_THEME]
    others = [theme for theme in THEMES if theme.key != RISING_THEME]
    column = ITEM_KINDS.index(kind)
    return rng.choices(others, weights=[t.weight * t.affinity[column] for t in others])[0]


def _pick_sentiment(rng: random.Random, theme: Theme, kind: str) -> str:
    factors = KIND_SENTIMENT_FACTORS[kind]
    weights = [
        base * factor if theme.texts[sentiment] else 0
        for base, factor, sentiment in zip(theme.sentiment, factors, SENTIMENTS, strict=True)
    ]
    return rng.choices(SENTIMENTS, weights=weights)[0]


def _app_version(rng: random.Random, days_before_end: int, theme: Theme) -> str:
    """Versions follow a release timeline; crash reports before the 5.2 launch are from beta."""
    if days_before_end <= RELEASE_52_DAYS_BEFORE_END:
        latest = "5.2.1" if days_before_end < 6 else "5.2.0"
        # Not everyone updates at once, but the crash only exists on 5.2.
        return latest if theme.key == RISING_THEME or rng.random() < 0.8 else "5.1.3"
    if theme.key == RISING_THEME:
        return f"5.2.0-beta.{rng.randint(1, 4)}"
    return rng.choice(("5.1.2", "5.1.3") if days_before_end < 42 else ("5.0.4", "5.1.0"))


def _slots(rng: random.Random, device: str, version: str, author: str) -> dict[str, object]:
    """Draw every slot filler once; a template uses the few it names."""
    slots: dict[str, object] = {name: rng.choice(values) for name, values in SLOT_VALUES.items()}
    amount = rng.randint(800, 24000) / 100
    slots.update(
        partner_cap=str(slots["partner"]).capitalize(),
        device=device,
        version=rng.choice((version, f"v{version}", f"version {version}", version[:3])),
        n=rng.randint(2, 6),
        secs=rng.randint(8, 30),
        amount=f"${amount:.2f}",
        amount2=f"${amount * rng.choice((0.1, 10, 0.5, 1.3)):.2f}",  # misread totals
        error_code=f"{rng.choice(('SYNC', 'BNK', 'E'))}-{rng.randint(100, 999)}",
        first_name=author.split()[0],
    )
    return slots


def _pick(rng: random.Random, template: str) -> str:
    """Pick one wording of each "(a|b|c)" group, innermost first."""
    while _ALTERNATIVES.search(template):  # a pass frees the groups that held inner ones
        template = _ALTERNATIVES.sub(lambda match: rng.choice(match[1].split("|")), template)
    return template


def _roughen(rng: random.Random, text: str, chance: float) -> str:
    """Add the small mistakes real people make: a swapped letter, missing apostrophes."""
    if rng.random() >= chance:
        return text
    words = text.split(" ")
    long_words = [i for i, word in enumerate(words) if len(word) > 5 and word.isalpha()]
    if long_words and rng.random() < 0.6:
        i = rng.choice(long_words)
        j = rng.randint(1, len(words[i]) - 2)
        words[i] = words[i][:j] + words[i][j + 1] + words[i][j] + words[i][j + 2 :]
        return " ".join(words)
    return re.sub(r"(\w)'(t|m|s|ve|re|ll)\b", r"\1\2", text)


def _maybe(rng: random.Random, chance: float, options: tuple[str, ...]) -> list[str]:
    return [rng.choice(options)] if options and rng.random() < chance else []


def _details(theme: Theme, sentiment: str) -> tuple[str, ...]:
    return theme.texts["praise" if sentiment == "positive" else "problem"]


def _author(rng: random.Random, kind: str) -> str:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    if kind == "ticket":
        return f"{first} {last}"
    number, word = rng.randint(1, 99), rng.choice(HANDLE_WORDS)
    options = (f"{first}{last[:3]}{number}", f"{word}_{first}", f"{first}.{last}")
    handle = rng.choice(options).lower()
    return f"@{handle}" if kind == "social_post" else rng.choice((handle, f"{first} {last[0]}."))


def _review(rng: random.Random, theme: Theme, sentiment: str) -> tuple[str, str]:
    """One to four sentences; a bare core sentence would repeat too often, so add at least one."""
    parts = _maybe(rng, 0.35, _TEXTS["review_openers"][sentiment])
    parts += [rng.choice(theme.texts[sentiment]), *_maybe(rng, 0.4, _details(theme, sentiment))]
    parts += _maybe(rng, 0.2, _TEXTS["review_context"]["neutral"])
    closer_chance = 0.5 if len(parts) > 1 else 1.0
    parts += _maybe(rng, closer_chance, _TEXTS["review_closers"][sentiment])
    use_topic = sentiment == "negative" and rng.random() < 0.6
    title = rng.choice(theme.texts["titles"] if use_topic else _TEXTS["review_titles"][sentiment])
    return title, " ".join(parts)


def _ticket(rng: random.Random, theme: Theme, sentiment: str) -> tuple[str, str]:
    """A support e-mail: greeting, the problem with a detail or two, a request, a sign-off."""
    details = _details(theme, sentiment)
    body = [rng.choice(theme.texts[sentiment])]
    body += rng.sample(details, k=min(len(details), rng.randint(1, 2)))
    body.append(rng.choice(_TEXTS["ticket_asks"][sentiment]))
    sign_off = rng.choice(TICKET_SIGN_OFFS) + "\n{first_name}"
    greeting = rng.choice(TICKET_GREETINGS)
    text = "\n\n".join(part for part in (greeting, " ".join(body), sign_off) if part)
    if sentiment == "positive":
        title = rng.choice(("Thank you!", "Feedback on {topic}", "Just a compliment"))
    elif sentiment == "neutral":
        title = rng.choice(("Question about {topic}", "Help with {topic}", *theme.texts["titles"]))
    else:
        title = rng.choice(theme.texts["titles"])
    return title, text


def _post(rng: random.Random, theme: Theme, sentiment: str) -> tuple[str, str]:
    """Short: an optional @mention, the sentence, and usually a hashtag or two."""
    tag_lines = _TEXTS["post_tags"][sentiment]
    tags = {_pick(rng, rng.choice(tag_lines)) for _ in range(rng.choice((0, 1, 1, 1, 2)))}
    sentence = rng.choice(theme.texts[sentiment])
    if rng.random() < 0.3:  # people often skip the full stop on social media
        sentence = sentence.removesuffix(".")
    parts = [*_maybe(rng, 0.5, _TEXTS["post_mentions"]["neutral"]), sentence, *sorted(tags)]
    return "", " ".join(parts)


_BUILDERS = {"review": _review, "ticket": _ticket, "social_post": _post}


def _metadata(
    rng: random.Random, kind: str, theme: Theme, sentiment: str, platform: str, version: str
) -> dict[str, object]:
    meta: dict[str, object] = {"demo_theme": theme.key, "demo_sentiment": sentiment}
    if kind == "review":
        meta.update(app_version=version, platform=platform)
    elif kind == "ticket":
        urgent = theme.key in URGENT_THEMES and sentiment == "negative"
        priority = rng.choice(("high", "high", "urgent") if urgent else ("low", "normal", "normal"))
        meta.update(channel=rng.choice(TICKET_CHANNELS), priority=priority, platform=platform)
        meta["app_version"] = "web" if platform == "web" else version
    else:
        meta.update(platform=rng.choice(POST_PLATFORMS), likes=int(rng.paretovariate(1.2)) - 1)
        if theme.key == RISING_THEME:  # these posts name the version, so it is known here too
            meta["app_version"] = version
    return meta


def _timestamps(rng: random.Random, week_start: date, count: int) -> list[datetime]:
    days = rng.choices(range(7), weights=WEEKDAY_WEIGHTS, k=count)
    hours = rng.choices(range(24), weights=HOUR_WEIGHTS, k=count)
    stamps = [
        datetime.combine(week_start + timedelta(days=day), time(hour), tzinfo=UTC)
        + timedelta(seconds=rng.randrange(3600))
        for day, hour in zip(days, hours, strict=True)
    ]
    return sorted(stamps)


def _record(
    rng: random.Random, kind: str, theme: Theme, created_at: datetime, end: date
) -> dict[str, object]:
    sentiment = _pick_sentiment(rng, theme, kind)
    # Social posts do not say the app's platform; receipt scanning exists on phones only.
    mobile_only = kind != "ticket" or theme.key == RISING_THEME
    platform = rng.choice(MOBILE if mobile_only else (*MOBILE, "web"))
    version = _app_version(rng, (end - created_at.date()).days, theme)
    author = _author(rng, kind)
    slots = _slots(rng, rng.choice(DEVICES[platform]), version, author) | {"topic": theme.topic}
    title, text = _BUILDERS[kind](rng, theme, sentiment)
    text = _pick(rng, text).format(**slots)
    rating = rng.choices(range(1, 6), weights=RATING_WEIGHTS[sentiment])[0]
    return {
        "source": _SOURCE_BY_KIND[kind],
        "kind": kind,
        "external_id": "",  # numbered by the caller, in time order
        "text": _roughen(rng, text, 0.15 if kind == "social_post" else 0.07),
        "title": _pick(rng, title).format(**slots),
        "author": author,
        "rating": rating if kind == "review" else None,
        "created_at": created_at,
        "metadata": _metadata(rng, kind, theme, sentiment, platform, version),
    }


def generate_demo_feedback(
    *, seed: int = 7, weeks: int = 8, end: date | None = None, items_per_week: int = 180
) -> Iterator[dict[str, object]]:
    """Yield demo records in time order, over `weeks` full weeks ending on `end` (UTC).

    `end` defaults to the most recent Sunday before today. Everything else comes from
    `random.Random(seed)`, so a seed and an end date always give the same records.
    """
    if weeks < 1 or items_per_week < 0:
        raise ValueError("weeks must be at least 1 and items_per_week not negative")
    end = end or _last_sunday(date.today())
    rng = random.Random(seed)  # noqa: S311 - demo data needs reproducibility, not secrecy
    next_ids = dict(_ID_STARTS)
    for week in range(weeks):
        weeks_before_end = weeks - 1 - week
        week_start = end - timedelta(days=7 * weeks_before_end + 6)
        rising_share = RISING_SHARE_BY_WEEKS_BEFORE_END.get(weeks_before_end, RISING_SHARE_EARLY)
        count = round(items_per_week * rng.uniform(0.94, 1.06))
        for created_at in _timestamps(rng, week_start, count):
            kind = rng.choices(ITEM_KINDS, weights=KIND_WEIGHTS)[0]
            record = _record(rng, kind, _pick_theme(rng, kind, rising_share), created_at, end)
            next_ids[kind] += rng.randint(1, 3)  # gaps, like ids shared with other data
            record["external_id"] = _ID_FORMATS[kind].format(next_ids[kind])
            yield record
