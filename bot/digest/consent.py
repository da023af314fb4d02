"""The consent policy, enforced: which contributions each output may hold.

One written policy (README, "Consent and what each output holds"); this module is the only
place it is applied to a week's words. Two consents govern two different uses:

- **Research consent is a person's own, and covers the researchers' use of their own words**:
  their reflections, their answers after a meeting, their lesson-study notes, and the agreed
  summaries and accounts they wrote down. Only people whose latest consent record says yes,
  now, appear in a research output (the researcher digest and every export), by pseudonym.
  A summary or an account counts as its author's words for research: the author chose them
  and the record names them as the writer, and the other members' agreement was to share
  the text with schools, not to give a researcher someone else's words.
- **Trio agreement covers the shared digest for schools**: the agreed text of a summary
  (its focus, practices, evidence, barriers, actions, questions, other points) and an agreed
  lesson-study account appear there whatever any one member's research consent. Only agreed
  work reaches this frame (the sources never read drafts). Reflections and post-meeting
  reflections are a person's own and never appear in the shared digest, not even as the
  themes it counts across trios.
- **Withdrawal** takes the person's own words out of every research output from then on,
  archived weeks included (consent is applied each time a week is read, never baked into the
  archive); the trio's agreed work stays in the shared digest. Consent given again brings
  their words back, archived weeks included. An action's owner is shown in a research output
  only while the owner consents (otherwise: "someone in the trio").
- **Erasure** deletes the person's own words (reflections, notes, archived rows of them)
  and keeps the trio's agreed work in the shared digest with their name replaced by
  "[erased]" and no author or owner (storage/personal_data.py); an erased person has no
  consent, so nothing of theirs is in any research output.

- **The partnership loop** (storage/question_digest.py's rows): a question the trio agreed
  for the researchers is agreed work, shown in the shared digest beside a shared answer
  whatever the asker's consent; in a research output its words and its asker are the
  asker's own, kept only while the asker consents (the row stays). A researcher's answers and
  comments are that researcher's own words, kept in a research output only while they consent
  (the row stays); an answer reaches the shared digest only when its researcher marked it
  shareable.

Participation figures (prompts delivered and answered) are counts of people consenting when
the week was compiled; they hold no one's words, and an archived week's counts stay as built.
"""

from __future__ import annotations

import re

import pandas as pd

from storage.digest_sources import AGREED_KINDS

# An action's owner in its tags ("…;owner_id=12;…", storage/digest_sources_trio_work.py).
_OWNER = re.compile(r"(?<![^;])owner_id=(\d+)")
# An owner who may not be shown in this output: "someone in the trio" (render.py); the
# exports drop the tag (exports.owner_tags).
WITHHELD = "owner_id=withheld"


def for_research(contributions: pd.DataFrame, who: pd.DataFrame) -> pd.DataFrame:
    """The rows of people whose consent is current, their owners blanked unless consenting:
    what the researcher digest and the exports may hold (person_id int64)."""
    consenting = consenting_ids(who)
    # One filter, one copy: the year's export holds a third of a million rows.
    kept = contributions[contributions["person_id"].isin(list(consenting))]
    kept = kept.astype({"person_id": "int64"})
    # infer_objects: the same dtypes whether the rows were just compiled (beside rows with
    # no person, whose empty school made the column object) or read from the archive.
    return _without_owners(kept, consenting, keep=True).infer_objects().reset_index(drop=True)


def for_schools(contributions: pd.DataFrame, who: pd.DataFrame) -> pd.DataFrame:
    """The trio's agreed work, whoever wrote it and whatever their consent, with no erased
    person as author or owner: what the shared digest may show."""
    agreed = contributions[contributions["kind"].isin(AGREED_KINDS)].copy()
    erased = _ids(who, who["status"] == "erased")
    author = pd.to_numeric(agreed["person_id"], errors="coerce")
    agreed["person_id"] = author.where(~author.isin(list(erased))).astype("Int64")
    return _without_owners(agreed, erased, keep=False).infer_objects().reset_index(drop=True)


def consenting_ids(who: pd.DataFrame) -> frozenset[int]:
    """Whose words research may use now: for any other table of a person's rows (exports)."""
    return _ids(who, who["consented"])


def _ids(who: pd.DataFrame, which: pd.Series) -> frozenset[int]:
    return frozenset(int(p) for p in who.loc[which, "person_id"].dropna())


def _without_owners(rows: pd.DataFrame, ids: frozenset[int], *, keep: bool) -> pd.DataFrame:
    """Withhold each action's owner_id that is not in `ids` (keep=True) or is (keep=False).
    Not emptied: an empty owner_id means the whole trio took it on, which this is not."""
    if "kind" not in rows or "tags" not in rows:
        return rows
    actions = rows["kind"] == "action"
    if not actions.any():
        return rows

    def blank(tags: str) -> str:
        return _OWNER.sub(
            lambda m: m.group(0) if (int(m.group(1)) in ids) == keep else WITHHELD, tags
        )

    rows = rows.copy()
    rows.loc[actions, "tags"] = rows.loc[actions, "tags"].astype(str).map(blank)
    return rows


def questions_for_research(questions: pd.DataFrame, consenting: frozenset[int]) -> pd.DataFrame:
    """The trios' questions (storage/question_digest.py QUESTION_COLUMNS) as a research output
    may hold them: every row, but `text`, `voice` and `asked_by` only while the asker consents;
    `withheld` says where they were taken out."""
    return _own_words(questions, "asked_by", consenting, also=())


def replies_for_research(replies: pd.DataFrame, consenting: frozenset[int]) -> pd.DataFrame:
    """The researchers' answers and comments (REPLY_COLUMNS) as a research output may hold
    them: every row, but `text`, `voice`, `author_id` and `author_name` only while the author
    consents."""
    return _own_words(replies, "author_id", consenting, also=("author_name",))


def _own_words(
    rows: pd.DataFrame, whose: str, consenting: frozenset[int], *, also: tuple[str, ...]
) -> pd.DataFrame:
    own = pd.to_numeric(rows[whose], errors="coerce").isin(list(consenting))
    kept = rows.copy()
    kept["withheld"] = ~own
    kept["text"] = kept["text"].where(own, "")
    kept["voice"] = kept["voice"].where(own, pd.NA)
    for column in (whose, *also):
        kept[column] = kept[column].astype(object).where(own, None)
    return kept
