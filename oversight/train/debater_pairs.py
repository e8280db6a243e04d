"""Debater preference pairs from judged debates, for DPO on the debaters themselves.

Reward. A debater's speech is rewarded with the judge ensemble's final probability for the
answer its speaker argued: the mean, over the selected judges, of each judge's final
(``after_round == -1``) probability of that answer. Every speech of one speaker in one debate
shares that reward: the verdict is on the whole debate, so this is the only credit the stored
judgments can give (it also reflects the opponent's speeches).

Pairs. A debate protocol with ``swap`` runs each question twice with the answers' speakers
exchanged, so every (question, round, answer) has one speech per debate arguing that answer in
that round. Those speeches are paired: ``chosen`` is the one whose debate gave the answer the
higher probability, ``rejected`` the other; equal rewards give no pair, nor do two identical
speeches (greedy decoding from one prompt), which DPO could not tell apart. With several debates
per (question, round, answer) (several seeds) every two with different rewards are paired.

Soft preference. Each pair keeps both rewards, their ``margin`` (chosen minus rejected, in
(0, 1]) and ``confidence = (1 + margin) / 2``, in (1/2, 1]: the preference strength that
``train_dpo`` reads for its confidence filter and robust-DPO label smoothing.

Prompts. The stored Turn has the speech, not the prompt, so prompts are rebuilt from the
Store: ``render_prompt`` receives the question, the speaker, its debate's assignment, the
turns that speaker saw (earlier rounds; with a ``speaker_order``, also the earlier speakers of
its own round; without the rounds its Turn records as dropped to fit the context) and the
round, and returns the chat messages. The debater's own prompt code lives in ``agents``, which
``oversight.train`` may not import, so the caller passes it (``oversight train-debaters`` passes
``agents.debater.Advocate.messages``). ``prompt`` is the chosen speech's prompt. In a
simultaneous first round both speeches of a pair had the same prompt; in later rounds each had
its own transcript, and ``same_prompt`` says whether the rejected speech's prompt matched.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np

from oversight.labels import questions_by_id
from oversight.store import Question, Store, Turn
from oversight.train.inputs import DebateView
from oversight.train.transcripts import debate_views

if TYPE_CHECKING:
    from datasets import Dataset

RenderPrompt = Callable[[Question, str, dict[str, int], Sequence[Turn], int, Sequence[int]], Any]
"""``(question, speaker, assignment, visible turns, round, dropped rounds) -> chat messages``."""

PAIR_COLUMNS = (
    "question_id",
    "round",
    "answer",
    "prompt",
    "chosen",
    "rejected",
    "chosen_reward",
    "rejected_reward",
    "margin",
    "confidence",
    "chosen_debate",
    "rejected_debate",
    "chosen_speaker",
    "rejected_speaker",
    "same_prompt",
)


class DebaterPairsError(ValueError):
    """Judged debates that cannot give debater pairs as asked."""


@dataclass(frozen=True)
class RewardedSpeech:
    """One debater speech with the ensemble's final probability for the answer it argued."""

    debate_id: str
    question_id: str
    round: int
    speaker: str
    answer: int
    text: str
    reward: float
    prompt: Any


def visible_turns(
    turns: Sequence[Turn], turn: Turn, speaker_order: Sequence[str] | None
) -> tuple[list[Turn], list[int]]:
    """What ``turn``'s speaker saw when it spoke, and the rounds it had dropped.

    As the speech node shows them: earlier rounds, plus (sequential turns) the speeches of
    the seats before it in the same round; rounds recorded in ``Turn.context`` as dropped to
    fit the model's context are left out, as ``agents.context.fit_to_context`` left them.
    """
    before: set[str] = set()
    if speaker_order is not None:
        order = list(speaker_order)
        if turn.speaker not in order:
            raise DebaterPairsError(
                f"speaker_order: {turn.speaker!r} of debate {turn.debate_id} is not in {order}"
            )
        before = set(order[: order.index(turn.speaker)])
    dropped = [int(r) for r in turn.context.get("dropped_rounds", [])]
    seen = [
        t
        for t in turns
        if (t.round < turn.round or (t.round == turn.round and t.speaker in before))
        and t.round not in dropped
    ]
    return seen, dropped


def debate_rewards(
    store: Store, debate_ids: Sequence[str], judges: Sequence[str] | None
) -> dict[str, list[float]]:
    """debate id -> the ensemble's mean final probability per answer (debates without a
    final verdict of the selected judges are absent)."""
    wanted = set(judges) if judges is not None else None
    probs: dict[str, list[list[float]]] = defaultdict(list)
    for j in store.judgments(list(debate_ids)):
        if j.after_round == -1 and (wanted is None or j.judge_id in wanted):
            probs[j.debate_id].append(list(j.probs))
    return {d: np.mean(np.asarray(p), axis=0).tolist() for d, p in probs.items()}


def rewarded_speeches(
    store: Store,
    experiment: str,
    *,
    protocol: str,
    render_prompt: RenderPrompt,
    judges: Sequence[str] | None = None,
    speaker_order: Sequence[str] | None = None,
) -> list[RewardedSpeech]:
    """Every debater speech of the experiment's complete, judged debates of ``protocol``."""
    exp = store.require_experiment(experiment)
    assert exp.id is not None
    views: list[DebateView] = [
        v for vs in debate_views(store, exp.id, protocol).values() for v in vs
    ]
    rewards = debate_rewards(store, [v.debate_id for v in views], judges)
    questions = questions_by_id(store, (v.question_id for v in views))
    out = []
    for v in views:
        if v.debate_id not in rewards:
            continue
        question = questions[v.question_id]
        for t in v.turns:
            if t.speaker not in v.assignment:  # a judge's question argues no side
                continue
            answer = v.assignment[t.speaker]
            seen, dropped = visible_turns(v.turns, t, speaker_order)
            prompt = render_prompt(question, t.speaker, dict(v.assignment), seen, t.round, dropped)
            out.append(
                RewardedSpeech(
                    debate_id=v.debate_id,
                    question_id=v.question_id,
                    round=t.round,
                    speaker=t.speaker,
                    answer=answer,
                    text=t.text.strip(),
                    reward=float(rewards[v.debate_id][answer]),
                    prompt=prompt,
                )
            )
    return out


def pair_speeches(speeches: Sequence[RewardedSpeech]) -> Dataset:
    """DPO pairs (``prompt``, ``chosen``, ``rejected`` plus the soft preference) from
    speeches arguing the same answer in the same round of one question's debates."""
    from datasets import Dataset

    groups: dict[tuple[str, int, int], list[RewardedSpeech]] = defaultdict(list)
    for s in speeches:
        groups[(s.question_id, s.round, s.answer)].append(s)
    rows: dict[str, list[Any]] = defaultdict(list)
    for key in sorted(groups):
        group = sorted(groups[key], key=lambda s: (s.debate_id, s.speaker))
        for x, y in combinations(group, 2):
            if x.debate_id == y.debate_id:
                raise DebaterPairsError(
                    f"debate {x.debate_id}: speakers {x.speaker} and {y.speaker} both argue "
                    f"answer {x.answer}; debater pairs need one speaker per answer"
                )
            if x.reward == y.reward or x.text == y.text:
                continue
            chosen, rejected = (x, y) if x.reward > y.reward else (y, x)
            margin = chosen.reward - rejected.reward
            rows["question_id"].append(key[0])
            rows["round"].append(key[1])
            rows["answer"].append(key[2])
            rows["prompt"].append(chosen.prompt)
            rows["chosen"].append([{"role": "assistant", "content": chosen.text}])
            rows["rejected"].append([{"role": "assistant", "content": rejected.text}])
            rows["chosen_reward"].append(chosen.reward)
            rows["rejected_reward"].append(rejected.reward)
            rows["margin"].append(margin)
            rows["confidence"].append((1.0 + margin) / 2.0)
            rows["chosen_debate"].append(chosen.debate_id)
            rows["rejected_debate"].append(rejected.debate_id)
            rows["chosen_speaker"].append(chosen.speaker)
            rows["rejected_speaker"].append(rejected.speaker)
            rows["same_prompt"].append(chosen.prompt == rejected.prompt)
    return Dataset.from_dict({c: rows[c] for c in PAIR_COLUMNS})


def debater_pairs(
    store: Store,
    experiment: str,
    *,
    protocol: str,
    render_prompt: RenderPrompt,
    judges: Sequence[str] | None = None,
    speaker_order: Sequence[str] | None = None,
) -> Dataset:
    """The experiment's debater preference pairs (see the module docstring for the rules)."""
    speeches = rewarded_speeches(
        store,
        experiment,
        protocol=protocol,
        render_prompt=render_prompt,
        judges=judges,
        speaker_order=speaker_order,
    )
    if not speeches:
        raise DebaterPairsError(
            f"experiment {experiment!r} has no complete, judged debates of protocol "
            f"{protocol!r}" + (f" with judges {list(judges)}" if judges else "")
        )
    return pair_speeches(speeches)


def prompt_tokens(tokenizer: Any, prompt: Sequence[dict[str, str]]) -> int:
    """Tokens of a chat prompt as the trainer encodes it (template and generation header)."""
    text = tokenizer.apply_chat_template(list(prompt), tokenize=False, add_generation_prompt=True)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def pairs_that_fit(pairs: Dataset, tokenizer: Any, max_length: int) -> tuple[Dataset, list[int]]:
    """The pairs whose prompt is shorter than ``max_length`` tokens, and every prompt's length.

    TRL's DPO trainer silently drops a pair whose prompt alone fills ``max_length`` (nothing
    of the speech would be left to learn from); counting them here lets the caller say so.
    """
    lengths = [prompt_tokens(tokenizer, p) for p in pairs["prompt"]]
    keep = [i for i, n in enumerate(lengths) if n < max_length]
    return pairs.select(keep), lengths
