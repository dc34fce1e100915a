"""Source documents for the citation tests: Markdown with every in-text form, and a PDF with a numbered list."""
from __future__ import annotations

from pathlib import Path

# Author-year Markdown: every parenthetical and narrative form, an organisation, an ambiguous pair, a miss.
AUTHOR_YEAR_MD = """# Buttock pain: where it comes from

## Background

Most back pain that spreads into the buttock is non-specific (Maher 2017).
Sacroiliac joint pain is felt over the sacrum and upper buttock (Fortin 1994; Cohen 2005).
No single structure can usually be confirmed as the source (Maher et al. 2017).
Facet joint pain is diagnosed with medial branch blocks (Cohen and Raja 2007).
Deyo and Weinstein (2001) estimated that cancer causes fewer than 1% of low back pain in primary care.
Schwarzer and colleagues (1995) used diagnostic blocks to estimate how often the sacroiliac joint is the source.
Guidelines advise staying active (NICE 2016).
Two papers by Smith in 2010 make this citation ambiguous (Smith 2010).
This work is not in the list (Jones 1999).
A bracketed pair such as [2, 3] in a document without a numbered list cites nothing.

## References

- Maher C, Underwood M, Buchbinder R. Non-specific low back pain. Lancet. 2017;389(10070):736-747. doi:10.1016/S0140-6736(16)30970-9
- Fortin JD, Dwyer AP, West S, Pier J. Sacroiliac joint: pain referral maps upon applying a new injection/arthrography technique. Part I: asymptomatic volunteers. Spine. 1994;19(13):1475-1482.
- Cohen SP. Sacroiliac joint pain: a comprehensive review of anatomy, diagnosis, and treatment. Anesthesia & Analgesia. 2005;101(5):1440-1453.
- Cohen SP, Raja SN. Pathogenesis, diagnosis, and treatment of lumbar zygapophysial (facet) joint pain. Anesthesiology. 2007;106(3):591-614.
- Deyo RA, Weinstein JN. Low back pain. New England Journal of Medicine. 2001;344:363-370.
- Schwarzer AC, Aprill CN, Bogduk N. The sacroiliac joint in chronic low back pain. Spine. 1995;20(1):31-37.
- National Institute for Health and Care Excellence (NICE). Low back pain and sciatica in over 16s: assessment and management. NICE guideline NG59. 2016.
- Smith A, Jones B. A first paper. Journal of Examples. 2010;1:1-2.
- Smith C. A second paper. Journal of Examples. 2010;1:3-4.
"""
AUTHOR_YEAR_ENTRIES = [line[2:] for line in AUTHOR_YEAR_MD.split("## References")[1].splitlines()
                       if line.startswith("- ")]
MAHER, FORTIN, COHEN_2005, COHEN_RAJA, DEYO, SCHWARZER, NICE, SMITH_A, SMITH_C = AUTHOR_YEAR_ENTRIES
# sentence -> [(marker, entry)] it must resolve to, exactly and in this order
AUTHOR_YEAR_EXPECTED = {
    "Most back pain that spreads into the buttock is non-specific (Maher 2017).": [("Maher 2017", MAHER)],
    "Sacroiliac joint pain is felt over the sacrum and upper buttock (Fortin 1994; Cohen 2005).":
        [("Fortin 1994", FORTIN), ("Cohen 2005", COHEN_2005)],
    "No single structure can usually be confirmed as the source (Maher et al. 2017).": [("Maher et al. 2017", MAHER)],
    "Facet joint pain is diagnosed with medial branch blocks (Cohen and Raja 2007).":
        [("Cohen and Raja 2007", COHEN_RAJA)],
    "Deyo and Weinstein (2001) estimated that cancer causes fewer than 1% of low back pain in primary care.":
        [("Deyo and Weinstein (2001)", DEYO)],
    "Schwarzer and colleagues (1995) used diagnostic blocks to estimate how often the sacroiliac joint is the source.":
        [("Schwarzer and colleagues (1995)", SCHWARZER)],
    "Guidelines advise staying active (NICE 2016).": [("NICE 2016", NICE)],
    "Two papers by Smith in 2010 make this citation ambiguous (Smith 2010).": [],
    "This work is not in the list (Jones 1999).": [],
    "A bracketed pair such as [2, 3] in a document without a numbered list cites nothing.": [],
}

NUMBERED_ENTRIES = [
    "Laslett M, Aprill CN, McDonald B, Young SB. Diagnosis of sacroiliac joint pain: validity of individual "
    "provocation tests and composites of tests. Manual Therapy. 2005;10(3):207-218.",
    "Schwarzer AC, Aprill CN, Bogduk N. The sacroiliac joint in chronic low back pain. Spine. 1995;20(1):31-37.",
    "Fortin JD, Dwyer AP, West S, Pier J. Sacroiliac joint: pain referral maps upon applying a new "
    "injection/arthrography technique. Part I: asymptomatic volunteers. Spine. 1994;19(13):1475-1482.",
    "Cohen SP. Sacroiliac joint pain: a comprehensive review of anatomy, diagnosis, and treatment. "
    "Anesthesia & Analgesia. 2005;101(5):1440-1453.",
    "Maher C, Underwood M, Buchbinder R. Non-specific low back pain. Lancet. 2017;389(10070):736-747. "
    "doi:10.1016/S0140-6736(16)30970-9",
    "Deyo RA, Weinstein JN. Low back pain. New England Journal of Medicine. 2001;344:363-370.",
    "Bogduk N. On the definitions and physiology of back pain, referred pain, and radicular pain. "
    "Pain. 2009;147:17-19.",
    "Dennehy PH. Rotavirus infection: a disease of the past? Infectious Disease Clinics of North America. "
    "2015;29(4):617-635.",
]
# In a numbered list, brackets and superscript-style numbers cite; a genotype code and an unlisted number do not.
NUMBERED_BODY = [
    "A cluster of pain provocation tests identifies sacroiliac joint pain better than any single test [1].",
    "Diagnostic blocks suggest the sacroiliac joint is the source in a minority of chronic low back pain [2, 3].",
    "Pain from the joint is usually felt just below the posterior superior iliac spine [3-5].",
    "Referral maps and reviews describe the same area [3\u20134].",
    "Serious causes such as cancer are rare in primary care6,7.",
    "Rotavirus genotype G1P[8] is a strain code, not a citation.",
    "An unlisted number cites nothing [9].",
]
NUMBERED_EXPECTED = {
    NUMBERED_BODY[0]: [("[1]", 1)],
    NUMBERED_BODY[1]: [("[2, 3]", 2), ("[2, 3]", 3)],
    NUMBERED_BODY[2]: [("[3-5]", 3), ("[3-5]", 4), ("[3-5]", 5)],
    NUMBERED_BODY[3]: [("[3\u20134]", 3), ("[3\u20134]", 4)],
    NUMBERED_BODY[4]: [("6,7", 6), ("6,7", 7)],
    NUMBERED_BODY[5]: [],
    NUMBERED_BODY[6]: [],
}


def numbered_markdown(style: str) -> str:
    """The numbered-list document as Markdown, entries marked "1.", "[1]" or "1)"."""
    marks = {"dot": "{}. ", "bracket": "[{}] ", "paren": "{}) "}[style]
    refs = "\n".join(marks.format(n) + e for n, e in enumerate(NUMBERED_ENTRIES, start=1))
    return "# Sacroiliac joint pain\n\n## Diagnosis\n\n" + "\n".join(NUMBERED_BODY) + "\n\n## References\n\n" + refs + "\n"


def numbered_pdf(path: Path) -> Path:
    """The numbered-list document as a PDF with an outline; long entries wrap over lines."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    class Outlined(SimpleDocTemplate):
        def afterFlowable(self, flowable) -> None:  # noqa: N802 - reportlab hook name
            level = getattr(flowable, "outline_level", None)
            if level is not None:
                key = f"h{self.seq.nextf('outline')}"
                self.canv.bookmarkPage(key)
                self.canv.addOutlineEntry(flowable.getPlainText(), key, level=level, closed=False)

    def heading(text: str, style, level: int) -> Paragraph:
        para = Paragraph(text, style)
        para.outline_level = level
        return para

    styles = getSampleStyleSheet()
    story = [heading("Sacroiliac joint pain", styles["Title"], 0), heading("Diagnosis", styles["Heading2"], 1)]
    story += [Paragraph(s.replace("&", "&amp;"), styles["Normal"]) for s in NUMBERED_BODY]
    story.append(heading("References", styles["Heading2"], 1))
    story += [Paragraph(f"{n}. " + e.replace("&", "&amp;"), styles["Normal"])
              for n, e in enumerate(NUMBERED_ENTRIES, start=1)]
    Outlined(str(path), pagesize=A4, title="Sacroiliac joint pain", invariant=1).build(story)
    return path
