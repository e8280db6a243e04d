"""Roles: debaters, consultants and judges, with their prompt templates."""

from agents.debater import Advocate, Speech
from agents.judge import JudgeVerdict, PromptedJudge
from agents.templates import PromptTemplate, TemplateError, load_template

__all__ = [
    "Advocate",
    "JudgeVerdict",
    "PromptTemplate",
    "PromptedJudge",
    "Speech",
    "TemplateError",
    "load_template",
]
