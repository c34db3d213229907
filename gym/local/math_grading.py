"""Grading a math answer the way slime's `math` and `deepscaler` rewards grade it.

slime (slime/rollout/rm_hub/math_utils.py at a74ae3a0, itself from DeepScaleR and Hendrycks'
MATH code) takes the last `\\boxed{...}` of the response and accepts it when either

1. the MATH benchmark's string normalisation makes it equal to the label (`mathd`): `\\text{}`
   unwrapped, `\\left`/`\\right`, degrees, `\\$`, `\\%`, units after `\\text{ `, a short
   assignment `x=` dropped, `\\frac12` -> `\\frac{1}{2}`, `0.5` and `a/b` -> `\\frac{a}{b}`; or
2. a second normalisation (`$`, `%`, units such as cm or hours, million/billion, LaTeX to text
   with pylatexenc, case) makes them equal, or sympy simplifies their difference to 0 (integers
   must match exactly, fractions must be written alike, tuples element by element).

This module re-implements those rules with the same libraries (sympy, pylatexenc), step for
step, so a reward scores locally what it scores on slime. The table of answers in
tests/test_local_fidelity.py holds the scores slime's code gives.
"""

from __future__ import annotations

import re

# ---- finding the answer ----------------------------------------------------------------------------


def last_boxed(text: str) -> str | None:
    """`\\boxed{...}` (or, without one, `\\fbox{...}`) with its braces, the last one in text; None
    when there is none or its braces do not close."""
    start = text.rfind("\\boxed")
    if start < 0:
        start = text.rfind("\\fbox")
        if start < 0:
            return None
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start:i + 1]
    return None


def boxed_content(text: str | None) -> str | None:
    """The inside of a `\\boxed{...}` string (exactly that shape: not `\\fbox`, no space), else None."""
    if text is None or not text.startswith("\\boxed{") or not text.endswith("}"):
        return None
    return text[len("\\boxed{"):-1]


def extract_answer(text: str) -> str | None:
    """The content of the last `\\boxed{}`, when the text has a `\\boxed` at all (slime's extract_answer)."""
    return boxed_content(last_boxed(text)) if "\\boxed" in text else None


# ---- normalisation 1: the MATH benchmark's (Hendrycks) -------------------------------------------


def _braced_fracs(s: str) -> str:
    """`\\frac12` -> `\\frac{1}{2}`, `\\frac1{7}` -> `\\frac{1}{7}`; s unchanged if a \\frac is too short."""
    head, *rest = s.split("\\frac")
    out = head
    for part in rest:
        out += "\\frac"
        if part[0] == "{":  # an empty part raises IndexError: the caller keeps the answer as it was
            out += part
            continue
        if len(part) < 2:
            return s
        num, den, tail = part[0], part[1], part[2:]
        out += "{" + num + "}" + ("{" + den + "}" + tail if den != "{" else den + tail)
    return out


def _slash_to_frac(s: str) -> str:
    """`3/4` -> `\\frac{3}{4}` for plain integers only."""
    parts = s.split("/")
    if len(parts) != 2:
        return s
    try:
        num, den = int(parts[0]), int(parts[1])
    except ValueError:
        return s
    return f"\\frac{{{num}}}{{{den}}}" if s == f"{num}/{den}" else s


def _braced_sqrt(s: str) -> str:
    """`\\sqrt3` -> `\\sqrt{3}`."""
    if "\\sqrt" not in s:
        return s
    head, *rest = s.split("\\sqrt")
    return head + "".join("\\sqrt" + (part if part[0] == "{" else "{" + part[0] + "}" + part[1:]) for part in rest)


def _mathd_strip(s: str) -> str:
    s = s.replace("\n", "").replace("\\!", "").replace("\\\\", "\\")
    s = s.replace("tfrac", "frac").replace("dfrac", "frac").replace("\\left", "").replace("\\right", "")
    s = s.replace("^{\\circ}", "").replace("^\\circ", "").replace("\\$", "")
    if "\\text{ " in s:  # a unit on the right: "5 \\text{ cm}"
        pieces = s.split("\\text{ ")
        if len(pieces) != 2:
            raise ValueError("more than one unit")
        s = pieces[0]
    s = s.replace("\\%", "")
    s = s.replace(" .", " 0.").replace("{.", "{0.")
    if not s:
        return s
    if s[0] == ".":
        s = "0" + s
    sides = s.split("=")
    if len(sides) == 2 and len(sides[0]) <= 2:  # "x = 5", "k=3"
        s = sides[1]
    s = _braced_sqrt(s).replace(" ", "")
    s = _braced_fracs(s)
    if s == "0.5":
        s = "\\frac{1}{2}"
    return _slash_to_frac(s)


def mathd_normalize(answer: str | None) -> str | None:
    if answer is None:
        return None
    answer = answer.strip()
    m = re.search(r"^\\text\{(?P<text>.+?)\}$", answer)
    if m is not None:
        answer = m.group("text").strip()
    try:
        return _mathd_strip(answer)
    except Exception:  # a malformed answer is compared as written
        return answer


def grade_mathd(given: str | None, truth: str | None) -> bool:
    return mathd_normalize(truth) == mathd_normalize(given)


# ---- normalisation 2 and sympy -------------------------------------------------------------------

UNITS = ("degree", "cm", "centimeter", "meter", "mile", "second", "minute", "hour", "day", "week", "month",
         "year", "foot", "feet", "inch", "yard")


def _is_float(s: str) -> bool:
    try:
        float(s)
        return True
    except (ValueError, TypeError):
        return False


def _is_int_value(x: float) -> bool:
    try:
        return abs(x - int(round(x))) <= 1e-7
    except (ValueError, OverflowError, TypeError):
        return False


def _drop_thousands_commas(s: str) -> str:
    """1,000,000 -> 1000000, leaving tuple commas (1,2) alone."""
    pattern = re.compile(r"(\d)(,)(\d\d\d)($|\D)")
    while True:
        shorter = pattern.sub(r"\1\3\4", s)
        if shorter == s:
            return shorter
        s = shorter


def _str_is_int(s: str) -> bool:
    try:
        return _is_int_value(float(_drop_thousands_commas(s)))
    except (ValueError, TypeError):
        return False


def _str_to_int(s: str) -> int:
    return int(float(s.replace(",", "")))


def latex_to_text(expr: str) -> str:
    """LaTeX to a string sympy can parse, through pylatexenc (as slime does)."""
    from pylatexenc import latex2text

    expr = expr.replace("\\tfrac", "\\frac").replace("\\dfrac", "\\frac").replace("\\frac", " \\frac")
    expr = latex2text.LatexNodes2Text().latex_to_text(expr)
    for symbol, name in (("√", "sqrt"), ("π", "pi"), ("∞", "inf"), ("∪", "U"), ("·", "*"), ("×", "*")):
        expr = expr.replace(symbol, name)
    return expr.strip()


def sympy_normalize(expr: str | None) -> str | None:
    if expr is None:
        return None
    m = re.search(r"^\\text\{(?P<text>.+?)\}$", expr)
    if m is not None:
        expr = m.group("text")
    expr = expr.replace("\\%", "%").replace("\\$", "$").replace("$", "").replace("%", "")
    expr = expr.replace(" or ", " , ").replace(" and ", " , ")
    expr = expr.replace("million", "*10^6").replace("billion", "*10^9").replace("trillion", "*10^12")
    for unit in UNITS:
        expr = re.sub(rf"{unit}(es)?(s)? *(\^[0-9]+)?", "", expr)
    expr = re.sub(r"\^ *\\circ", "", expr)
    if expr and expr[0] == "{" and expr[-1] == "}":
        expr = expr[1:-1]
    expr = re.sub(r",\\! *", "", expr)
    if _is_float(expr) and _is_int_value(float(expr)):
        expr = str(int(round(float(expr))))
    if "\\" in expr:
        try:
            expr = latex_to_text(expr)
        except Exception:  # pylatexenc could not read it: compare the text as it is
            pass
    expr = re.sub("- *", "-", expr)
    expr = re.sub("([0-9]) +([0-9])", r"\1+\2", expr)  # a mixed number 7 3/4 -> 7+3/4
    expr = expr.replace(" ", "").replace("{", "").replace("}", "").lower()
    if _str_is_int(expr):
        expr = str(_str_to_int(expr))
    return expr


def _may_eval(expr: str) -> bool:
    """sympy can hang: no text with more than two unknown letters, no large powers."""
    letters = {ch for ch in expr.replace("sqrt", "").replace("frac", "") if ch.isalpha()}
    if len(letters) > 2 or "^{" in expr or "^(" in expr:
        return False
    return not (re.search(r"\^[0-9]+\^", expr) or re.search(r"\^[0-9][0-9]+", expr))


def _sympy_parse(expr: str):
    import sympy
    from sympy.parsing import sympy_parser

    names = {k: v for k, v in vars(sympy).items() if not k.startswith("_")}  # sympy names, no builtins
    return sympy_parser.parse_expr(
        expr.replace("^", "**"), local_dict={}, global_dict={"__builtins__": {}, **names},
        transformations=sympy_parser.standard_transformations + (sympy_parser.implicit_multiplication_application,))


def equal_under_sympy(truth: str, given: str) -> bool:
    import sympy

    difference = f"({truth})-({given})"
    try:
        return _may_eval(difference) and sympy.simplify(_sympy_parse(difference)) == 0
    except Exception:  # unparseable: not equal
        return False


def _elements(expr: str) -> list[str]:
    """A tuple or interval's elements ("(1,2)" -> ["1", "2"]); anything else is one element."""
    expr = _drop_thousands_commas(expr)
    if not expr:
        return []
    brackets = "()[]"
    if len(expr) > 2 and expr[0] in brackets and expr[-1] in brackets and not any(b in expr[1:-1] for b in brackets):
        return [e.strip() for e in expr[1:-1].split(",")]
    return [expr]


def _is_fraction(expr: str) -> bool:
    return bool(re.search(r"^-?[0-9]+.?/0*[1-9][0-9]*.?$", expr))


def grade_sympy(given: str, truth: str | None) -> bool:
    truth_n, given_n = sympy_normalize(truth), sympy_normalize(given)
    if truth_n is None:
        return False
    if truth_n == given_n:
        return True
    if not given_n:
        return False
    truths, givens = _elements(truth_n), _elements(given_n)
    if len(truths) > 1 and (truth_n[0] != given_n[0] or truth_n[-1] != given_n[-1]):
        return False  # (a, b) is not [a, b]
    if len(truths) != len(givens):
        return False
    for t, g in zip(truths, givens):
        if _is_fraction(t) and _is_fraction(g):
            ok = t == g  # an unreduced fraction is not accepted
        elif _str_is_int(t) != _str_is_int(g):
            ok = False  # an integer answer must be written as one
        else:
            ok = equal_under_sympy(t, g)
        if not ok:
            return False
    return True


# ---- the rewards ------------------------------------------------------------------------------------


def math_score(response: str, label) -> int:
    """slime's rm_type="math" (grade_answer_verl): 1 if the last boxed answer matches the label."""
    if not label:  # slime: `if not ground_truth` (so also a label of 0 scores 0)
        return 0
    truth = str(label)
    if "\\boxed" in truth:
        truth = extract_answer(truth)
    given = extract_answer(response)
    if given is None:
        return 0
    return int(grade_mathd(given, truth) or grade_sympy(given, truth))


def deepscaler_score(response: str, label) -> int:
    """slime's rm_type="deepscaler": the boxed answer after `</think>` (or `###Response`)."""
    if "</think>" in response:
        solution = response.split("</think>")[-1]
    elif "###Response" in response:
        solution = response.split("###Response")[1]
    else:
        return 0
    given = extract_answer(solution)
    if given is None or label == "":
        return 0
    if not isinstance(label, (str, float, int)):  # slime asserts this
        raise TypeError(f"deepscaler needs a str or number label, got {type(label).__name__}")
    truth = str(label)
    if "\\boxed" in truth:
        truth = extract_answer(truth)
        if truth is None:
            return 0
    return int(grade_mathd(given, truth) or grade_sympy(given, truth))
