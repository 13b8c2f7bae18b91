"""Made-up personal data and ticket texts: names from random syllables, emails at the
reserved example.* domains, French-style mobile numbers, and support-ticket texts whose
wording depends on the customer's mood. Nothing is taken from real people."""

from __future__ import annotations

import numpy as np

_ONSETS = ("b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z",
           "br", "ch", "cl", "dr", "fl", "gr", "kr", "pl", "sh", "st", "th", "tr")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "ie", "oa", "ou")
_CODAS = ("", "", "", "l", "n", "r", "s", "t", "m", "nd", "rt", "ck", "ns")
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")


def _words(rng: np.random.Generator, n: int, syllables: tuple[int, int]) -> list[str]:
    """`n` capitalised pseudo-words of `syllables` (min, max) syllables each."""
    counts = rng.integers(syllables[0], syllables[1] + 1, size=n)
    onsets = rng.integers(0, len(_ONSETS), size=(n, syllables[1]))
    vowels = rng.integers(0, len(_VOWELS), size=(n, syllables[1]))
    codas = rng.integers(0, len(_CODAS), size=n)
    words = []
    for i in range(n):
        word = "".join(_ONSETS[onsets[i, j]] + _VOWELS[vowels[i, j]] for j in range(counts[i]))
        words.append((word + _CODAS[codas[i]]).capitalize())
    return words


def make_names(rng: np.random.Generator, n: int) -> tuple[list[str], list[str]]:
    """(first names, last names) of `n` people."""
    return _words(rng, n, (1, 2)), _words(rng, n, (2, 3))


def make_emails(rng: np.random.Generator, first: list[str], last: list[str], invalid: np.ndarray) -> list[str]:
    """first.last<nn>@example.*; where `invalid`, the @ is written " at " (a form typo)."""
    numbers = rng.integers(1, 100, size=len(first))
    domains = rng.integers(0, len(EMAIL_DOMAINS), size=len(first))
    out = []
    for f, la, num, dom, bad in zip(first, last, numbers, domains, invalid):
        out.append(f"{f.lower()}.{la.lower()}{num}{' at ' if bad else '@'}{EMAIL_DOMAINS[dom]}")
    return out


def make_phones(rng: np.random.Generator, n: int) -> list[str]:
    """International mobile numbers, e.g. +33 6 12 34 56 78."""
    lead = rng.choice(np.array(["6", "7"]), size=n)
    pairs = rng.integers(0, 100, size=(n, 4))
    return [f"+33 {lead[i]} " + " ".join(f"{p:02d}" for p in pairs[i]) for i in range(n)]


# --------------------------------------------------------------------------- ticket texts

_NEUTRAL = {
    "billing": ("I was charged twice this month, can you check?", "Where can I download my invoice?",
                "My card expires soon, how do I update it?", "The VAT on my last invoice looks wrong."),
    "delivery": ("My parcel is late, any news?", "The box arrived but one item is missing.",
                 "Can I change the delivery address for next week?", "Courier left the parcel at the wrong door."),
    "product": ("Is the large size back in stock?", "The item I received is damaged.",
                "Do you have a gluten free option?", "How do I return a product that does not fit?"),
    "account": ("I cannot log in to the app.", "How do I change my password?",
                "Please update my name on the account.", "The app crashes when I open my orders."),
    "cancellation": ("How do I pause my subscription for a month?", "Can I skip next month's box?",
                     "What happens if I switch to the basic plan?", "Is there a fee to change plan?"),
}
#: Wording of customers about to leave (or unhappy): cancel / refund / complaint.
_LEAVING = (
    "I want to cancel my subscription.", "Please cancel my account at the end of the month.",
    "I would like a refund for my last order.", "This is a formal complaint about the service.",
    "Third late delivery in a row, I want a refund.", "Too expensive now, how do I cancel?",
    "I am not happy with the quality lately, please refund me.", "I want to file a complaint and cancel.",
)
_CONTACT = ("Please call me back on {phone}.", "You can reach me at {email}.", "My number is {phone}, thanks.")


def ticket_text(rng: np.random.Generator, category: str, unhappy: bool, email: str, phone: str,
                *, empty: bool, contact: bool) -> str:
    """One ticket's free text: empty, or a sentence of its category (an unhappy customer
    often writes about cancelling, refunds or complaints), with the customer's own email
    or phone number appended when `contact`."""
    if empty:
        return ""
    pool = _LEAVING if unhappy else _NEUTRAL[category]
    text = pool[int(rng.integers(0, len(pool)))]
    if contact:
        extra = _CONTACT[int(rng.integers(0, len(_CONTACT)))]
        national = "0" + phone.removeprefix("+33 ")  # written as dialled in France half of the time
        text = f"{text} {extra.format(email=email, phone=phone if rng.random() < 0.5 else national)}"
    return text


LEAVING_WORDS = ("cancel", "refund", "complaint")
